"""The worker: where a run is admitted, executed, paused, resumed and ended.

``Worker.submit`` is the one way a run (or its next segment after a wait) starts: it
takes a local slot if one is free and hands the run to the durable engine, which calls
``Worker.execute`` (at least once, again after a crash) until it returns. A run its
tenant's quota holds (``engine/admission.py``) is handed over later, by ``release``.
Every status change is written through ``store.runs.move_run``.
"""

import asyncio
import contextvars
import json
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta

from runplane.agents.registry import Project
from runplane.agents.spec import AgentSpec
from runplane.domain.errors import RunError
from runplane.domain.events import CancelReceipt, ErrorData, ResultData, StatusNote
from runplane.domain.json import JSONObject
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import (
    ApprovalRecord,
    NewEvent,
    RevisionRecord,
    RunRecord,
    StepRecord,
    StepRow,
    utcnow,
)
from runplane.engine import tracing
from runplane.engine.admission import Admission
from runplane.engine.base import Engine
from runplane.engine.children import Children
from runplane.engine.context import RunContext
from runplane.engine.files import RunFiles, input_files
from runplane.engine.governance import Caller, Governor, RunPolicy
from runplane.engine.hub import EventHub
from runplane.engine.journal import FLUSH_DELAY, Journal, Replay, jsonable
from runplane.engine.lease import Lease
from runplane.engine.metering import Meter
from runplane.engine.metrics import Metrics
from runplane.engine.outcome import Suspend, WriteFailed, error_info, failed_step
from runplane.engine.ports import GraphRunner, RunHooks
from runplane.engine.recording import Recording, load_recording
from runplane.engine.waits import Waits, Write, cancel_receipt
from runplane.engine.writer import RunWriter
from runplane.logs import bind_run
from runplane.store import admission as admission_store
from runplane.store import agents as agents_store
from runplane.store import approvals as approvals_store
from runplane.store import notify
from runplane.store import runs as runs_store
from runplane.store.blobs import BlobStore
from runplane.store.db import Database
from runplane.store.retry import is_database_outage, retrying
from runplane.store.runs import Fenced, Move, StaleRun

log = logging.getLogger("runplane.worker")
# A run this process put in the engine's queue counts as waiting there (and keeps later
# runs from jumping the line into a free local slot) for at most this long.
QUEUED_HINT_SECONDS = 10.0


@dataclass(frozen=True)
class Slots:
    """How many runs this process executes at once (0 when it is not a worker)."""

    worker: bool
    concurrency: int


class Worker:
    """Admits runs to this process and executes them; ends and resumes runs that wait."""

    def __init__(
        self,
        *,
        slots: Slots,
        db: Database,
        engine: Engine,
        hub: EventHub,
        project: Project,
        hooks: RunHooks,
        graphs: GraphRunner | None,
        admission: Admission,
        lease: Lease,
        blobs: BlobStore,
        revision_spec: Callable[[str, RevisionRecord], AgentSpec] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.slots = slots
        self.metrics = metrics
        # Builds the agent of a revision that is data, not code (a step agent's).
        self.revision_spec = revision_spec
        self._revision_specs: dict[str, AgentSpec] = {}
        # Where files' bytes are: agents read their inputs and save artifacts through it.
        self.blobs = blobs
        # Renewed by the heartbeat; lapsed, runs here start no new step (self-fencing).
        self.lease = lease
        self.admission = admission
        self.db = db
        self.engine = engine
        self.hub = hub
        self.project = project
        self.hooks = hooks
        self.graphs = graphs
        self._tasks: dict[str, asyncio.Task[object]] = {}
        # The writer of each run's latest attempt here (fencing: see ``_attempt``).
        self._writers: dict[str, RunWriter] = {}
        self._reserved: set[str] = set()
        self._active: set[str] = set()
        self._canceling: set[str] = set()
        # Runs admitted here, as just stored: their first read is spared.
        self._fresh: dict[str, RunRecord] = {}
        self._completions_marked: dict[str, float] = {}
        self._revision_hashes: dict[str, str] = {}
        # Runs this process queued in the engine, not yet seen starting (monotonic time).
        self._queued: dict[str, float] = {}
        self._releases: set[asyncio.Task[int]] = set()
        self._waits = Waits(db, hub, hooks, self._submit_segment)
        self._waits.metrics = metrics
        # The services' doors to waiting runs: resume one, or end one no worker holds.
        self.resume = self._waits.resume
        self.end_idle = self._waits.end_idle
        self.wake_waiting_parents = self._waits.wake_waiting_parents

    # -- admission ----------------------------------------------------------------------

    async def submit(
        self,
        run_id: str,
        *,
        row: RunRecord | None = None,
        segment: int = 0,
        priority: int | None = None,
    ) -> None:
        """Start a run (or its next ``segment``) durably: here if a slot is free, else queued.

        ``row``, the run as just stored by this process, spares its first read; a row
        its tenant's quota holds (``admitted_at`` unset) is left for ``release``.
        ``priority`` is the run's place in the round-robin line (``engine/admission.py``).
        """
        if row is not None and row["admitted_at"] is None:
            return
        here = self._reserve(run_id, row)
        try:
            await self.engine.submit(run_id, here=here, segment=segment, priority=priority)
        finally:
            if not here:
                self._reserved.discard(run_id)
                self._fresh.pop(run_id, None)
                self._queued[run_id] = time.monotonic()
        if not here:
            await self._announce_queued(run_id)

    async def _announce_queued(self, run_id: str) -> None:
        """Tell the other processes that a run waits in the queue (Postgres NOTIFY)."""
        # An idle worker elsewhere then reads the queue at once, not at its next idle
        # poll (QueuePoll.IDLE_SECONDS). A lost announcement costs that poll only: the
        # run is queued either way. SQLite has no channel: no transaction for nothing.
        if self.db.is_sqlite:
            return
        try:
            async with self.db.write() as conn:
                await notify.announce(conn, run_id)
        except Exception as exc:
            if not is_database_outage(exc):
                raise
            log.warning("run %s queued, not announced: %s", run_id, exc, extra={"run_id": run_id})

    async def _submit_segment(self, run_id: str, segment: int) -> None:
        await self.submit(run_id, segment=segment)

    @property
    def draining(self) -> bool:
        """Whether this process is shutting down: it starts no run and no step any more."""
        return self.lease.draining

    def drain(self) -> None:
        """Take no new run from now on (they go to the queue) and hold runs between steps."""
        self.lease.drain()
        self.engine.stop_taking()

    def parked(self) -> bool:
        """Whether every run executing here waits between steps (or none executes)."""
        return len(self._active) <= self.lease.holding

    def _reserve(self, run_id: str, row: RunRecord | None) -> bool:
        if not self.slots.worker or self.draining or self.load >= self.slots.concurrency:
            return False
        if self._line_waiting():
            return False  # runs wait in the queue: a free slot is theirs, in their order
        self._reserved.add(run_id)
        if row is not None:
            self._fresh[run_id] = row
        return True

    def _line_waiting(self) -> bool:
        """Whether runs this process queued recently have not started yet."""
        if not self._queued:
            return False
        stale = time.monotonic() - QUEUED_HINT_SECONDS
        for run_id in [r for r, at in self._queued.items() if at < stale]:
            del self._queued[run_id]
        return bool(self._queued)

    async def release(self, tenant_id: str) -> int:
        """Admit the tenant's held runs that now fit in its quota, oldest first; how many."""
        if tenant_id not in self.admission.holding:
            return 0
        limits = await self.admission.limits(tenant_id)
        now = utcnow()
        async with self.db.read() as conn:
            usage = await admission_store.usage(conn, tenant_id)
            room = limits.max_running - usage.in_flight
            due = await admission_store.held_due(conn, tenant_id, now, max(room, 1))
        if not due:
            self.admission.holding.discard(tenant_id)
            return 0
        if room <= 0:
            return 0
        async with self.db.write() as conn:
            admitted = await admission_store.admit(conn, due, now)
        for place, run in enumerate(admitted, start=usage.waiting + 1):
            await self.submit(run["id"], row=run, priority=place)
        return len(admitted)

    async def release_due(self) -> int:
        """Admit held runs that may start now, of every tenant (scheduled ones when due)."""
        async with self.db.read() as conn:
            tenants = await admission_store.tenants_with_due(conn, utcnow())
        self.admission.holding.update(tenants)
        started = 0
        for tenant_id in tenants:
            started += await self.release(tenant_id)
        return started

    @property
    def load(self) -> int:
        """How many runs execute here now (or are about to)."""
        return len(self._active) + len(self._reserved)

    @property
    def executing(self) -> int:
        """How many runs execute here now."""
        return len(self._active)

    def runs_here(self, run_id: str) -> bool:
        """Whether the run is executing (or about to) in this process."""
        return run_id in self._active or run_id in self._reserved

    # -- cancel -------------------------------------------------------------------------

    async def cancel(self, run: RunRecord, also: Write | None = None) -> None:
        """Record a cancel request and stop the run: at once if idle, else at its next await.

        ``also`` writes more in the request's transaction (who asked, in the activity log).
        """
        run_id = run["id"]
        requested = run["cancel_requested_at"] or utcnow()
        async with self.db.write() as conn:
            await runs_store.update_run(conn, run_id, cancel_requested_at=requested)
            if also is not None:
                await also(conn)
            await notify.announce(conn, run_id)
        idle = run["status"] in (RunStatus.QUEUED, RunStatus.PAUSED, RunStatus.AUTH_REQUIRED)
        if idle and run_id not in self._active:
            # A run about to start here must read this cancel, not the row it was created with.
            self._fresh.pop(run_id, None)
            await self._cancel_idle(run, requested)
        else:
            self._stop_local(run_id)
        self.hub.notify(run_id)

    async def _cancel_idle(self, run: RunRecord, requested: datetime) -> None:
        try:
            await self._waits.end_idle(
                run, RunStatus.CANCELED, [], receipt=cancel_receipt(requested)
            )
        except StaleRun:
            return  # a worker started it meanwhile: it sees the request and stops
        if run["status"] == RunStatus.QUEUED and run["admitted_at"] is not None:
            await self.engine.discard(run["id"])

    def stop_attempt(self, run_id: str) -> bool:
        """Stop this process's attempt at a run handed elsewhere (a repair whose epoch moved on).

        Its next write is refused (``Fenced``), so it ends without writing anything more.
        """
        if run_id not in self._tasks:
            return False
        self._stop_fenced(run_id)
        return True

    def _stop_fenced(self, run_id: str) -> None:
        """Stop an attempt whose run another attempt holds now; it writes nothing more."""
        task = self._tasks.get(run_id)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _stop_local(self, run_id: str) -> bool:
        task = self._tasks.get(run_id)
        if task is None:
            return False
        self._canceling.add(run_id)
        task.cancel()
        return True

    async def apply_remote_cancels(self) -> None:
        """Stop local runs whose cancel was asked for through another process."""
        local = list(self._tasks)
        if not local:
            return
        async with self.db.read() as conn:
            rows = await runs_store.cancel_requested(conn, local)
        for run_id in rows:
            if run_id not in self._canceling:
                self._stop_local(run_id)

    # -- execution ----------------------------------------------------------------------

    async def execute(self, run_id: str) -> str:
        """Run (or resume) one run to its end or its next wait; return its status.

        It returns only once the run's end (or wait) is written, or the run is another
        executor's: an attempt that a passing database failure stopped is made again from
        what the run recorded; one that still fails raises, and the durable engine records
        the failure (the reconciler, ``services/workers.py``, takes it from there).
        """
        self._reserved.discard(run_id)
        self._queued.pop(run_id, None)
        self._active.add(run_id)
        try:
            return await retrying(lambda: self._execute(run_id), f"running run {run_id}")
        finally:
            self._writers.pop(run_id, None)
            if self.graphs is not None:
                self.graphs.finished(run_id)
            self._active.discard(run_id)
            self._tasks.pop(run_id, None)
            self._canceling.discard(run_id)
            self.engine.slot_freed()  # a queued run may take the slot

    async def _execute(self, run_id: str) -> str:
        fresh = self._fresh.pop(run_id, None)
        loaded = await self._load(run_id, fresh)
        if loaded is None:
            log.warning("run %s does not exist; its workflow ends", run_id)
            return "missing"
        run, steps, decided = loaded
        trace = tracing.segment(
            run_id, run["agent_name"], run["tenant_id"], run.get("traceparent"), run["segment"]
        )
        with bind_run(run_id, run["tenant_id"]), trace:
            try:
                return await self._attempt(run, steps, decided, fresh is not None)
            except Fenced:
                # Another attempt holds the run (a takeover): the writer logged the refusal
                # and wrote nothing; the run goes on there.
                return "fenced"
            except StaleRun:
                # Another writer moved this run's log under this attempt: it goes on there.
                log.warning("run was taken over elsewhere; stopping here")
                return "stale"
            finally:
                self._release_soon(run["tenant_id"])

    def _release_soon(self, tenant_id: str) -> None:
        """Let the tenant's held runs into the slot this run leaves, outside its workflow."""
        if tenant_id not in self.admission.holding:
            return
        # A fresh context: a task copies the current one, and inside it the durable engine
        # would take the admitted runs' workflows for children of this run's, which ends.
        task = asyncio.get_running_loop().create_task(
            self.release(tenant_id), context=contextvars.Context()
        )
        self._releases.add(task)
        task.add_done_callback(self._released)

    def _released(self, task: "asyncio.Task[int]") -> None:
        self._releases.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("releasing held runs failed: %s", task.exception())

    async def _load(
        self, run_id: str, fresh: RunRecord | None
    ) -> tuple[RunRecord, dict[int, StepRecord], dict[str, ApprovalRecord]] | None:
        """The run, its recorded steps and its decided approvals."""
        run = fresh
        step_rows: list[StepRow] = []
        decided: dict[str, ApprovalRecord] = {}
        # A run just created here is known whole and has no steps or decisions yet,
        # unless it reuses another run's steps.
        if run is None or run["from_step"]:
            async with self.db.read() as conn:
                run = run or await runs_store.get_run(conn, None, run_id)
                if run is not None and (run["started_at"] or run["from_step"]):
                    step_rows = await runs_store.list_steps(conn, run_id)
                if run is not None and run["segment"] > 0:
                    decided = await approvals_store.decided_for_run(conn, run_id)
        if run is None:
            return None
        steps = {
            r["number"]: StepRecord(
                r["number"],
                r["name"],
                r["status"],
                r["output"],
                r["error"],
                r["reused_from"],
                model=r["model"],
                credits=r["credits"],
            )
            for r in step_rows
        }
        return run, steps, decided

    async def _attempt(
        self,
        run: RunRecord,
        steps: dict[int, StepRecord],
        decided: dict[str, ApprovalRecord],
        fresh: bool,
    ) -> str:
        """One attempt: the checks before the agent runs, then the agent."""
        if RunStatus(run["status"]).terminal:
            return run["status"]
        # An attempt made again after a database failure carries on the last one's epoch:
        # if this process was cut off meanwhile and the run taken over, it is refused.
        before = self._writers.get(run["id"])
        writer = RunWriter(
            self.db,
            self.hub,
            run,
            steps,
            owner=self.engine.executor_id,
            executor_id=self.engine.executor_id,
            lease=self.lease,
            on_fenced=lambda: self._stop_fenced(run["id"]),
            epoch=before.epoch if before is not None else None,
            hooks=self.hooks,
            metrics=self.metrics,
        )
        self._writers[run["id"]] = writer
        if run["cancel_requested_at"] is not None:
            return await self._finish_canceled(writer, None, [], [])
        spec = await self._loaded_spec(run, checked=fresh)
        if spec is None:
            missing: ErrorData = {
                "code": "revision_unavailable",
                "message": f"the code of revision {run['revision_id']} is not loaded here",
                "step": None,
                "retryable": False,
            }
            return await self._finish(writer, RunStatus.FAILED, error=missing)
        if spec.kind == "langgraph" and writer.status == RunStatus.QUEUED:
            assert self.graphs is not None
            # Runs of one thread go one at a time, in the order they were created.
            if await self.graphs.wait_turn(run):
                async with self.db.read() as conn:
                    again = await runs_store.get_run(conn, None, run["id"])
                if again is None or RunStatus(again["status"]).terminal:
                    return again["status"] if again else "missing"
                writer.reload(again)
                if again["cancel_requested_at"] is not None:
                    return await self._finish_canceled(writer, None, [], [])
        if writer.held_elsewhere:
            # The attempt that ran it never ended (its process died or was declared dead):
            # claim the run before replaying anything, so that attempt's writes are refused.
            await writer.take_over()
        return await self._run_agent(writer, spec, steps, decided)

    async def _run_agent(
        self,
        writer: RunWriter,
        spec: AgentSpec,
        steps: dict[int, StepRecord],
        decided: dict[str, ApprovalRecord],
    ) -> str:
        """Run the agent (or graph) until it returns, raises, waits, is canceled or times out."""
        run, now = writer.run, utcnow()
        writer.starting = writer.status == RunStatus.QUEUED
        started_at = now if writer.starting else (run["started_at"] or now)
        segment_started = time.monotonic()
        replay = Replay(last_op=run["last_op"], steps=steps, approvals=decided)
        graphs = self.graphs if spec.kind == "langgraph" else None
        journal = Journal(writer, replay, graphs.flush_delay if graphs else FLUSH_DELAY)
        journal.meter = Meter(self.db, run, self.hooks.prices(run))
        governor = Governor(
            journal,
            self.hooks.gate(run),
            RunPolicy(
                integrations=run["integrations"] if run["integrations"] is not None else [],
                approval=run["approval"],
                rules=run["approval_rules"] or [],
                plans_first=spec.plans_first,
                describe=_describe(spec, run),
            ),
            Caller(run["id"], run["tenant_id"], run["user_id"]),
            await self._recording(run),
        )
        if writer.starting:
            journal.schedule_flush()
        # Time spent waiting for people does not count against the run's limit.
        segment_start = run["resumed_at"] or started_at
        budget = run["timeout_seconds"] - float(run["active_seconds"] or 0)
        deadline = segment_start + timedelta(seconds=budget)
        remaining = max(0.0, (deadline - utcnow()).total_seconds())
        body: Coroutine[object, None, object]
        if graphs is not None:
            body = graphs.execute(spec, journal, run, self._waits)
        else:
            children = Children(self.db, journal, self.hooks, run)
            ctx = _context(run, spec, journal, governor, self.db, self.blobs, children)
            ctx.files = await input_files(self.db, self.blobs, run)
            body = _call_agent(spec, ctx, governor)
        task = asyncio.get_running_loop().create_task(body)
        self._tasks[run["id"]] = task
        done, _ = await asyncio.wait({task}, timeout=remaining)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        try:
            await journal.close()
        finally:
            if not task.cancelled():
                task.exception()  # seen: a failed write ends the attempt, whatever the agent did
        return await self._settle(
            writer, spec, task, journal, timed_out=not done, segment_started=segment_started
        )

    async def _recording(self, run: RunRecord) -> Recording | None:
        """A replay's recorded tool calls, loaded once per segment; None for other runs."""
        source = run.get("replay_of")
        if not source:
            return None
        return await load_recording(self.db, run["tenant_id"], source)

    async def _settle(
        self,
        writer: RunWriter,
        spec: AgentSpec,
        task: "asyncio.Task[object]",
        journal: Journal,
        *,
        timed_out: bool,
        segment_started: float,
    ) -> str:
        """Record how the attempt ended: in one transaction, with what is still buffered."""
        if writer.fenced is not None:
            raise writer.fenced  # another attempt holds the run: this one records nothing
        if timed_out or task.cancelled():
            step = journal.current_step
            if timed_out:
                limit = writer.run["timeout_seconds"]
                stop = _error("timeout", f"the run took longer than {limit:g} s", step, True)
            else:
                stop = _error("canceled", "the run was canceled", step, False)
            events, steps, last_op = journal.take_pending(interrupted=stop)
            fields = journal.take_fields()
            if timed_out:
                return await self._finish(
                    writer,
                    RunStatus.FAILED,
                    error=stop,
                    events=events,
                    steps=steps,
                    last_op=last_op,
                    fields=fields,
                )
            return await self._finish_canceled(writer, step, events, steps, last_op, fields)
        events, steps, last_op = journal.take_pending()
        fields = journal.take_fields()
        exc = task.exception()
        if isinstance(exc, Suspend):
            return await self._waits.suspend(
                writer, exc, events, steps, last_op, fields, segment_started
            )
        if isinstance(exc, WriteFailed):
            raise exc.cause  # the attempt failed, not the run: it is tried again
        if exc is not None and is_database_outage(exc):
            raise exc  # the database failed under the agent, not the agent itself
        error: ErrorData | None
        if exc is not None:
            step = failed_step(exc)
            error = error_info(exc, journal.current_step if step is None else step)
        else:
            try:
                result = _make_result(spec, task.result(), journal.sources, journal.files)
            except RunError as bad:
                error = error_info(bad, None)
            else:
                error = None
        if error is not None:
            return await self._finish(
                writer,
                RunStatus.FAILED,
                error=error,
                events=events,
                steps=steps,
                last_op=last_op,
                fields=fields,
            )
        return await self._finish(
            writer,
            RunStatus.SUCCEEDED,
            result=result,
            events=events,
            steps=steps,
            last_op=last_op,
            fields=fields,
            agent_id=writer.run["agent_id"],
        )

    async def _loaded_spec(self, run: RunRecord, *, checked: bool) -> AgentSpec | None:
        """The agent whose code is the run's revision, if this process has it loaded.

        This is the one check of a revision's code hash at execution; a python run
        admitted by this process was checked against the same code when it was created.
        """
        spec = self.project.get(run["agent_name"])
        if spec is None:
            return await self._defined_spec(run)
        if checked and spec.kind == "python":
            return spec
        digest = self._revision_hashes.get(run["revision_id"])
        if digest is None:
            async with self.db.read() as conn:
                rev = await agents_store.find_revision(conn, run["agent_id"], run["revision_id"])
            if rev is None:
                return None
            digest = self._revision_hashes[run["revision_id"]] = rev["hash"]
        return spec if digest == spec.content_hash() else None

    async def _defined_spec(self, run: RunRecord) -> AgentSpec | None:
        """The agent of a revision defined as data (a step agent), built once per revision."""
        spec = self._revision_specs.get(run["revision_id"])
        if spec is not None or self.revision_spec is None:
            return spec
        async with self.db.read() as conn:
            rev = await agents_store.find_revision(conn, run["agent_id"], run["revision_id"])
        if rev is None or rev["config"].get("kind") != "steps":
            return None
        if len(self._revision_specs) >= 1024:
            self._revision_specs.clear()
        spec = self._revision_specs[run["revision_id"]] = self.revision_spec(run["agent_name"], rev)
        return spec

    # -- endings ------------------------------------------------------------------------

    async def _finish_canceled(
        self,
        writer: RunWriter,
        step: int | None,
        events: list[NewEvent],
        steps: list[StepRecord],
        last_op: int | None = None,
        fields: dict[str, object] | None = None,
    ) -> str:
        requested = writer.run["cancel_requested_at"]
        if requested is None:
            async with self.db.read() as conn:
                again = await runs_store.get_run(conn, None, writer.run["id"])
            requested = (again and again["cancel_requested_at"]) or utcnow()
        return await self._finish(
            writer,
            RunStatus.CANCELED,
            receipt=cancel_receipt(requested, step),
            events=events,
            steps=steps,
            last_op=last_op,
            fields=fields,
        )

    async def _finish(
        self,
        writer: RunWriter,
        final: RunStatus,
        *,
        result: ResultData | None = None,
        error: ErrorData | None = None,
        receipt: CancelReceipt | None = None,
        events: list[NewEvent] | None = None,
        steps: list[StepRecord] | None = None,
        last_op: int | None = None,
        fields: dict[str, object] | None = None,
        agent_id: str | None = None,
    ) -> str:
        now = utcnow()
        closing = list(events or [])
        columns: dict[str, object] = {**(fields or {}), "finished_at": now}
        if result is not None:
            closing.append(NewEvent("result", result, now))
            columns["result"] = result
        if error is not None:
            closing.append(NewEvent("error", error, now))
            columns["error"] = error
        data: StatusNote = {}
        if receipt is not None:
            columns["cancel_receipt"] = data["receipt"] = receipt
        if last_op is not None:
            columns["last_op"] = last_op
        if agent_id is not None and not self._completion_due(agent_id):
            agent_id = None
        await writer.commit(
            closing, list(steps or []), columns, then=Move(final, data), completed_agent=agent_id
        )
        await self._waits.wake_parent(writer.run)
        return str(final)

    def _completion_due(self, agent_id: str) -> bool:
        # An agent's last_completed_at is kept to the second: under load, one write a
        # second per agent instead of one per run.
        now = time.monotonic()
        if now - self._completions_marked.get(agent_id, -1.0) < 1.0:
            return False
        self._completions_marked[agent_id] = now
        return True


def _error(code: str, message: str, step: int | None, retryable: bool) -> ErrorData:
    return {"code": code, "message": message, "step": step, "retryable": retryable}


def _describe(spec: AgentSpec, run: RunRecord) -> str:
    what = spec.description.splitlines()[0] if spec.description else f"Run the {spec.name} agent."
    return f"{what} Input: {json.dumps(run['input'], default=str)[:500]}"


def _context(
    run: RunRecord,
    spec: AgentSpec,
    journal: Journal,
    governor: Governor,
    db: Database,
    blobs: BlobStore,
    children: Children,
) -> RunContext:
    return RunContext(
        run_id=run["id"],
        tenant_id=run["tenant_id"],
        input=run["input"],
        variables={**spec.variables, **(run["variables"] or {})},
        context=run["context"] or {},
        user_id=run["user_id"],
        metadata=run["metadata"] or {},
        model=run["model"],
        journal=journal,
        governor=governor,
        saver=RunFiles(db, blobs, run, journal),
        children=children,
    )


async def _call_agent(spec: AgentSpec, ctx: RunContext, governor: Governor) -> object:
    await governor.ensure_planned()
    value: object = ctx.input
    if spec.input_model is not None:
        value = spec.input_model.model_validate(ctx.input if ctx.input is not None else {})
    return await spec.fn(ctx, value)


def _make_result(
    spec: AgentSpec, raw: object, sources: list[JSONObject], files: list[JSONObject]
) -> ResultData:
    output = jsonable(raw)
    if spec.output == "document":
        if not isinstance(output, str):
            raise RunError(
                f"a document agent must return markdown text, not {type(output).__name__}",
                code="invalid_output",
            )
        result: ResultData = {"type": "document", "content": output, "sources": sources}
        if files:
            result["files"] = files
        return result
    if spec.output_schema is not None:
        import jsonschema  # here: most agents declare no schema, and it is 10 MB of modules

        try:
            jsonschema.validate(output, spec.output_schema)
        except jsonschema.ValidationError as exc:
            raise RunError(
                f"output does not match output_schema: {exc.message}", code="invalid_output"
            ) from exc
    done: ResultData = {"type": "json", "content": output, "sources": list(sources)}
    if files:
        done["files"] = files
    return done
