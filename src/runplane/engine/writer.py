"""Writing one attempt of a run: its events, steps, columns and status moves.

The writer keeps the one in-memory copy of the run that this attempt works from, in
step with what it writes; waiters in this process get the ended run from it unread.

It is also the attempt's fence (docs/architecture.md, Failover): its first write claims
the run (this executor becomes its ``owner`` and the epoch moves on by one), and every
write, the first included, only applies if the run still holds the epoch the attempt
expects. A refused write raises ``Fenced``; the writer then refuses everything after it
without asking the database, and tells the worker to stop the attempt.
"""

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import cast

from runplane.domain.events import ApprovalRequiredData, TakeoverData
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import (
    NewEvent,
    RunRecord,
    StepRecord,
    WebhookDeliveryRecord,
    utcnow,
)
from runplane.engine.hub import EventHub
from runplane.engine.journal import AtEnd
from runplane.engine.lease import Lease
from runplane.engine.metrics import Metrics
from runplane.engine.ports import RunHooks
from runplane.providers.base import USAGE_KEYS
from runplane.store import agents as agents_store
from runplane.store import notify
from runplane.store import runs as runs_store
from runplane.store import webhook_deliveries as deliveries_store
from runplane.store.db import Conn, Database
from runplane.store.retry import retrying
from runplane.store.runs import Chain, Fenced, Move, StaleRun

log = logging.getLogger("runplane.fencing")

# The statuses an attempt ends in: what was left for the run's end commits with them.
_SETTLING = {
    RunStatus.SUCCEEDED,
    RunStatus.FAILED,
    RunStatus.CANCELED,
    RunStatus.PAUSED,
    RunStatus.AUTH_REQUIRED,
}
# A run that waits is held by no attempt: the next one claims it without a takeover.
_WAITING = {RunStatus.PAUSED, RunStatus.AUTH_REQUIRED}


class RunWriter:
    """Writes a running run's events and steps, one transaction per flush."""

    def __init__(
        self,
        db: Database,
        hub: EventHub,
        run: RunRecord,
        steps: dict[int, StepRecord],
        *,
        owner: str,
        lease: Lease,
        on_fenced: Callable[[], None] | None = None,
        executor_id: str | None = None,
        epoch: int | None = None,
        hooks: RunHooks | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics
        self._began: dict[int, datetime] = {}  # steps started by this attempt (metrics)
        self.hub = hub
        self.hooks = hooks  # the webhook outbox rows of each move come from here
        self.run = run
        self.chain = Chain(run["last_seq"], run["last_hash"])
        self.status = RunStatus(run["status"])
        self.finished = {n for n, s in steps.items() if s.status == "completed"}
        self.count = max(steps, default=0)
        # queued -> running rides with the first write of the attempt.
        self.starting = False
        self.at_end: list[AtEnd] = []
        # Fencing: this executor, the epoch the run must hold for our next write, and
        # whether our first write (the claim, which moves the epoch on) has been made.
        # ``epoch`` carries on an attempt of this process that a database failure stopped:
        # the run is claimed only if it still holds that attempt's epoch.
        self.owner = owner
        self.carries_on = epoch is not None
        self.epoch = int(run["epoch"]) if epoch is None else epoch
        self.claimed = False
        self.lease = lease
        self.fenced: Fenced | None = None
        self._on_fenced = on_fenced
        # The attempt's first write names the process that executes it (if not already).
        self._executor_id = executor_id if executor_id != run["executor_id"] else None

    def reload(self, run: RunRecord) -> None:
        """Work from the run as just read again (it waited for its turn)."""
        self.run = run
        self.chain = Chain(run["last_seq"], run["last_hash"])
        self.status = RunStatus(run["status"])
        if not self.claimed and not self.carries_on:
            self.epoch = int(run["epoch"])

    @property
    def held_elsewhere(self) -> bool:
        """Tell whether the run must be claimed before anything is replayed or run.

        It is ``running`` under an attempt that never ended (its executor died, or was cut
        off and declared dead), or this attempt carries on one of this process's that a
        database failure stopped (which, cut off meanwhile, may have been taken over).
        Claiming records a ``takeover`` event (``take_over``).
        """
        if self.status != RunStatus.RUNNING:
            return False
        return self.run["owner"] is not None or self.carries_on

    async def take_over(self) -> None:
        """Claim a run whose previous attempt never ended, recording who took it from whom."""
        data: TakeoverData = {
            "executor": self.owner,
            "previous": self.run["owner"],
            "epoch": self.epoch + 1,
        }
        await self.commit([NewEvent("takeover", data, utcnow())], [], {})

    async def hold(self) -> None:
        """Before a side effect: refuse if fenced; wait while this process's lease lapsed.

        A process whose beats have not got through for half the dead-after time may be
        cut off and about to be declared dead, so it starts nothing new (self-fencing).
        When its beats get through again, the run is carried on only if it still holds
        this attempt's epoch (nobody took it over meanwhile).
        """
        if self.fenced is not None:
            raise self.fenced
        if self.lease.valid:
            return
        if self.lease.draining:
            # The process is shutting down: the run waits here, between steps, until it
            # is handed to another worker (services/process.py:drain); it never goes on.
            log.info("draining: holding the run before its next step", extra={"epoch": self.epoch})
            await self.lease.wait_valid()
        log.warning(
            "no heartbeat got through for %.1f s: holding the run (self-fencing)",
            self.lease.lapsed_for,
            extra={"epoch": self.epoch},
        )
        await self.lease.wait_valid()
        async with self.db.read() as conn:
            now = await runs_store.holder(conn, self.run["id"])
        if now is None or now[0] != self.epoch:
            epoch, owner = now or (None, None)
            self._fence(Fenced(self.run["id"], self.epoch, epoch, owner))
        log.warning("heartbeats get through again: the run carries on here")

    async def flush(
        self,
        events: list[NewEvent],
        steps: list[StepRecord],
        last_op: int,
        fields: dict[str, object],
    ) -> None:
        """Write buffered events, step rows, run fields and the op position in one transaction."""
        await self.commit(events, steps, {**fields, "last_op": last_op})

    async def commit(
        self,
        events: list[NewEvent],
        steps: list[StepRecord],
        fields: Mapping[str, object],
        *,
        then: Move | None = None,
        completed_agent: str | None = None,
        also: Callable[[Conn], Awaitable[None]] | None = None,
        approval: ApprovalRequiredData | None = None,
    ) -> None:
        """One transaction: events, step rows, run columns, and the move ``then`` after them.

        The webhook outbox rows of the moves (``approval``: the one a pause announces)
        commit in the same transaction.

        A passing database failure is retried (``store.retry``); a log that moved under
        this writer aborts it (``StaleRun``); a run that another attempt claimed refuses
        it (``Fenced``), and every write after that.
        """
        if self.fenced is not None:
            raise self.fenced
        now = utcnow()
        start = Move(RunStatus.RUNNING) if self.starting else None
        columns: dict[str, object] = {**fields, **self._progress(steps), "updated_at": now}
        if start is not None:
            columns["started_at"] = now
        if not self.claimed:
            columns["owner"], columns["epoch"] = self.owner, self.epoch + 1
        if then is not None and then.to in _WAITING:
            columns["owner"] = None
        if self._executor_id is not None:
            columns["executor_id"] = self._executor_id
        rows = [_step_row(self.run["id"], s) for s in steps]
        run_id, before = self.run["id"], self.chain
        logged = runs_store.logged(events, before=start, after=then, at=now)
        deliveries = await self._deliveries(columns, start, then, len(logged), approval)
        tries = 0

        async def write() -> Chain:
            nonlocal tries
            tries += 1
            try:
                async with self.db.write() as conn:
                    after = await self._write(conn, events, rows, columns, start, then, now)
                    if also is not None:
                        await also(conn)
                    if deliveries:
                        await deliveries_store.insert_many(conn, deliveries)
                    if then is not None and then.to in _SETTLING:
                        for at_end in self.at_end:
                            await at_end(conn)
                    await notify.announce(conn, run_id)
                    if completed_agent is not None:
                        await agents_store.record_completion(conn, completed_agent, now)
                return after
            except (StaleRun, Fenced):
                # The connection may have gone down after an earlier try's COMMIT reached
                # the server: then the log already ends where this write would end it
                # (and a first write has already claimed the run's next epoch).
                if tries == 1:
                    raise
                landed = runs_store.chain_after(run_id, before, logged)
                async with self.db.read() as conn:
                    if await runs_store.log_ends_at(conn, run_id, landed):
                        return landed
                raise

        try:
            self.chain = await retrying(write, f"writing run {run_id}")
        except Fenced as refused:
            self._fence(refused)
        if not self.claimed:
            self.epoch, self.claimed = self.epoch + 1, True
        self.starting = False
        self._executor_id = None
        if start is not None:
            self.status = RunStatus.RUNNING
        if deliveries and self.hooks is not None:
            self.hooks.delivered_soon()
        if then is not None:
            self.status = then.to
            columns["status"] = then.to
        merged = {**self.run, **columns, "last_seq": self.chain.last_seq}
        merged["last_hash"] = self.chain.last_hash
        self.run = cast(RunRecord, merged)
        if self.metrics is not None:
            to = then.to if then is not None else None
            took = self._step_seconds(steps)
            self.metrics.run_moved(self.run, started=start is not None, to=to, steps=took, at=now)
        ended = self.status in (RunStatus.SUCCEEDED, RunStatus.FAILED)
        clean = ended and self.run["cancel_requested_at"] is None
        self.hub.notify(self.run["id"], self.status, row=self.run.copy() if clean else None)

    async def _deliveries(
        self,
        columns: Mapping[str, object],
        start: Move | None,
        then: Move | None,
        logged: int,
        approval: ApprovalRequiredData | None,
    ) -> list[WebhookDeliveryRecord]:
        """The webhook outbox rows of this write's moves, each at its status event's seq."""
        if self.hooks is None or (start is None and then is None):
            return []
        moved: list[tuple[RunStatus, int]] = []
        if start is not None:
            moved.append((RunStatus.RUNNING, self.chain.last_seq + 1))
        if then is not None:
            moved.append((then.to, self.chain.last_seq + logged))
        run = cast(RunRecord, {**self.run, **columns})
        return await self.hooks.lifecycle(run, moved, approval)

    def _fence(self, refused: Fenced) -> None:
        """Refuse every write from now on, have the attempt stopped, and raise."""
        if self.fenced is None:
            self.fenced = refused
            log.warning(
                "fenced: run %s is held by %s at epoch %s; this attempt (%s, epoch %d) "
                "stops without writing",
                refused.run_id,
                refused.owner or "another attempt",
                refused.now,
                self.owner,
                refused.epoch,
                extra={"fenced": True, "epoch": refused.epoch, "held_at": refused.now},
            )
            if self._on_fenced is not None:
                self._on_fenced()
        raise self.fenced

    async def _write(
        self,
        conn: Conn,
        events: list[NewEvent],
        rows: list[dict[str, object]],
        columns: dict[str, object],
        start: Move | None,
        then: Move | None,
        now: datetime,
    ) -> Chain:
        if start is None and then is None:
            return await runs_store.commit_changes(
                conn,
                self.run["id"],
                self.chain,
                new_events=events,
                step_rows=rows,
                fields=columns,
                epoch=self.epoch,
            )
        return await runs_store.move_run(
            conn,
            self.run["id"],
            self.chain,
            self.status,
            before=start,
            after=then,
            new_events=events,
            step_rows=rows,
            fields=columns,
            at=now,
            epoch=self.epoch,
        )

    def _step_seconds(self, steps: list[StepRecord]) -> list[float]:
        """How long each step this write ended took, from its start written by this attempt."""
        took = []
        for s in steps:
            if s.status == "running" and s.started_at is not None:
                self._began[s.number] = s.started_at
            elif s.status in ("completed", "failed") and s.finished_at is not None:
                began = self._began.pop(s.number, None)
                if began is not None:
                    took.append((s.finished_at - began).total_seconds())
        return took

    def _progress(self, steps: list[StepRecord]) -> dict[str, int]:
        """Count finished steps; return the run columns that show progress."""
        for s in steps:
            self.count = max(self.count, s.number)
            if s.status in ("completed", "reused"):
                self.finished.add(s.number)
        return {"steps_finished": len(self.finished), "step_count": self.count}


def _step_row(run_id: str, s: StepRecord) -> dict[str, object]:
    row: dict[str, object] = {
        "run_id": run_id,
        "number": s.number,
        "name": s.name,
        "status": s.status,
    }
    for key in (
        "output",
        "error",
        "reused_from",
        "started_at",
        "finished_at",
        "model",
        "reasoning_effort",
        "credits",
    ):
        value = getattr(s, key)
        if value is not None:
            row[key] = value
    if s.usage is not None:
        for key in USAGE_KEYS:
            row[key] = int(s.usage.get(key, 0))
    return row
