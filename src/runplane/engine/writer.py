"""Writing one attempt of a run: its events, steps, columns and status moves.

The writer keeps the one in-memory copy of the run that this attempt works from, in
step with what it writes; waiters in this process get the ended run from it unread.
"""

from collections.abc import Awaitable, Callable, Mapping
from typing import cast

from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import NewEvent, RunRecord, StepRecord, utcnow
from runplane.engine.hub import EventHub
from runplane.engine.journal import AtEnd
from runplane.store import agents as agents_store
from runplane.store import notify
from runplane.store import runs as runs_store
from runplane.store.db import Conn, Database
from runplane.store.runs import Chain, Move

# The statuses an attempt ends in: what was left for the run's end commits with them.
_SETTLING = {
    RunStatus.SUCCEEDED,
    RunStatus.FAILED,
    RunStatus.CANCELED,
    RunStatus.PAUSED,
    RunStatus.AUTH_REQUIRED,
}


class RunWriter:
    """Writes a running run's events and steps, one transaction per flush."""

    def __init__(
        self, db: Database, hub: EventHub, run: RunRecord, steps: dict[int, StepRecord]
    ) -> None:
        self.db = db
        self.hub = hub
        self.run = run
        self.chain = Chain(run["last_seq"], run["last_hash"])
        self.status = RunStatus(run["status"])
        self.finished = {n for n, s in steps.items() if s.status == "completed"}
        self.count = max(steps, default=0)
        # queued -> running rides with the first write of the attempt.
        self.starting = False
        self.at_end: list[AtEnd] = []

    def reload(self, run: RunRecord) -> None:
        """Work from the run as just read again (it waited for its turn)."""
        self.run = run
        self.chain = Chain(run["last_seq"], run["last_hash"])
        self.status = RunStatus(run["status"])

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
    ) -> None:
        """One transaction: events, step rows, run columns, and the move ``then`` after them.

        A log that moved under this writer aborts it (``StaleRun``).
        """
        now = utcnow()
        start = Move(RunStatus.RUNNING) if self.starting else None
        columns: dict[str, object] = {**fields, **self._progress(steps), "updated_at": now}
        if start is not None:
            columns["started_at"] = now
        rows = [_step_row(self.run["id"], s) for s in steps]
        async with self.db.write() as conn:
            if start is None and then is None:
                self.chain = await runs_store.commit_changes(
                    conn,
                    self.run["id"],
                    self.chain,
                    new_events=events,
                    step_rows=rows,
                    fields=columns,
                )
            else:
                self.chain = await runs_store.move_run(
                    conn,
                    self.run["id"],
                    self.chain,
                    self.status,
                    before=start,
                    after=then,
                    new_events=events,
                    step_rows=rows,
                    fields=columns,
                )
            if also is not None:
                await also(conn)
            if then is not None and then.to in _SETTLING:
                for write in self.at_end:
                    await write(conn)
            await notify.announce(conn, self.run["id"])
            if completed_agent is not None:
                await agents_store.record_completion(conn, completed_agent, now)
        self.starting = False
        if start is not None:
            self.status = RunStatus.RUNNING
        if then is not None:
            self.status = then.to
            columns["status"] = then.to
        merged = {**self.run, **columns, "last_seq": self.chain.last_seq}
        merged["last_hash"] = self.chain.last_hash
        self.run = cast(RunRecord, merged)
        ended = self.status in (RunStatus.SUCCEEDED, RunStatus.FAILED)
        clean = ended and self.run["cancel_requested_at"] is None
        self.hub.notify(self.run["id"], self.status, row=self.run.copy() if clean else None)

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
    for key in ("output", "error", "reused_from", "started_at", "finished_at"):
        value = getattr(s, key)
        if value is not None:
            row[key] = value
    return row
