"""Executing a run: the workflow body that the engine calls, and local cancel.

The engine may call ``execute`` more than once for a run (after a crash); each call
replays what was recorded and carries on. Every status change here goes through
``lifecycle.transition`` and ``store.runs.commit_changes``.
"""

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import jsonschema

from runplane.agents.spec import AgentSpec
from runplane.domain.errors import RunError
from runplane.domain.lifecycle import RunStatus, transition
from runplane.domain.models import NewEvent, iso, utcnow
from runplane.engine.context import (
    Journal,
    Replay,
    RunContext,
    RunPolicy,
    StepRecord,
    Suspend,
    error_info,
)
from runplane.graphs.host import GRAPH_FLUSH_DELAY
from runplane.services import agents as agents_svc
from runplane.services import waits, webhooks
from runplane.services.runtime import Runtime
from runplane.services.tooling import ToolGate
from runplane.services.waits import status_event
from runplane.store import agents as agents_store
from runplane.store import approvals as approvals_store
from runplane.store import notify
from runplane.store import runs as runs_store
from runplane.store.db import Conn
from runplane.store.runs import Chain

log = logging.getLogger("runplane.execution")
# The statuses an attempt ends in: what was left for the run's end commits with them.
_SETTLING = {
    RunStatus.SUCCEEDED,
    RunStatus.FAILED,
    RunStatus.CANCELED,
    RunStatus.PAUSED,
    RunStatus.AUTH_REQUIRED,
}


class RunJournal(Journal):
    """Writes a running run's events and steps, one transaction per flush."""

    def __init__(self, rt: Runtime, run_id: str, chain: Chain, steps: dict[int, StepRecord]):
        self.rt = rt
        self.run_id = run_id
        self.chain = chain
        self.finished = {n for n, s in steps.items() if s.status in ("completed",)}
        self.count = max(steps, default=0)
        # The start of an attempt (queued -> running) rides with the first flush.
        self.pending_fields: dict[str, Any] = {}
        self.pending_expect: str | None = None
        self.status: str | None = None
        # Columns the agent set in its last moments (its plan), for the final write.
        self.extra_fields: dict[str, Any] = {}
        # The run as this process last wrote it; waiters of an ended run get it unread.
        self.row: dict[str, Any] = {}
        self.at_end: list[Callable[[Conn], Awaitable[None]]] = []

    def take_extra(self) -> dict[str, Any]:
        """The agent's pending run columns, once."""
        fields, self.extra_fields = self.extra_fields, {}
        return fields

    def track(self, steps: list[StepRecord]) -> dict[str, Any]:
        """Count finished steps; return the run columns that show progress."""
        for s in steps:
            self.count = max(self.count, s.number)
            if s.status in ("completed", "reused"):
                self.finished.add(s.number)
        return {"steps_finished": len(self.finished), "step_count": self.count}

    async def flush(
        self,
        events: list[NewEvent],
        steps: list[StepRecord],
        last_op: int,
        fields: dict[str, Any] | None = None,
    ) -> None:
        """Write buffered events, step rows, run fields and the op position in one transaction."""
        await self.commit(events, steps, {**(fields or {}), "last_op": last_op})

    def take_start(self) -> tuple[dict[str, Any], str | None]:
        """The attempt's start fields and expected status, if not yet written."""
        fields, expect = self.pending_fields, self.pending_expect
        self.pending_fields, self.pending_expect = {}, None
        return fields, expect

    async def commit(
        self,
        events: list[NewEvent],
        steps: list[StepRecord],
        fields: dict[str, Any],
        expect_status: str | None = None,
        completed_agent: str | None = None,
        also: Callable[[Conn], Awaitable[None]] | None = None,
    ) -> None:
        """One transaction: events, step rows, run columns (a stale log aborts it)."""
        start, start_expect = self.take_start()
        expect_status = start_expect or expect_status
        fields = {**start, **fields, **self.track(steps), "updated_at": utcnow()}
        rows = [_step_row(self.run_id, s) for s in steps]
        async with self.rt.db.write() as conn:
            self.chain = await runs_store.commit_changes(
                conn,
                self.run_id,
                self.chain,
                new_events=events,
                step_rows=rows,
                fields=fields,
                expect_status=expect_status,
            )
            if also is not None:
                await also(conn)
            if fields.get("status") in _SETTLING:
                for write in self.at_end:
                    await write(conn)
            await notify.announce(conn, self.run_id)
            if completed_agent is not None:
                await agents_store.record_completion(conn, completed_agent, fields["finished_at"])
        self.status = fields.get("status", self.status)
        if self.row:
            self.row.update(fields, last_seq=self.chain.last_seq, last_hash=self.chain.last_hash)
        ended = self.status in (RunStatus.SUCCEEDED, RunStatus.FAILED)
        clean = ended and self.row and self.row["cancel_requested_at"] is None
        self.rt.hub.notify(self.run_id, self.status, row=dict(self.row) if clean else None)


def _step_row(run_id: str, s: StepRecord) -> dict[str, Any]:
    row: dict[str, Any] = {"run_id": run_id, "number": s.number, "name": s.name, "status": s.status}
    for key in ("output", "error", "reused_from", "started_at", "finished_at"):
        value = getattr(s, key)
        if value is not None:
            row[key] = value
    return row


class Runner:
    """Runs agents in this process: slots, the live tasks, and local cancel."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        self.reserved: set[str] = set()
        self.active: set[str] = set()
        self.cancel_requested: set[str] = set()
        self.completions_marked: dict[str, float] = {}
        self.fresh: dict[str, Any] = {}

    def _completion_due(self, agent_id: str) -> bool:
        # An agent's last_completed_at is kept to the second: under load, one write a
        # second per agent instead of one per run.
        now = time.monotonic()
        if now - self.completions_marked.get(agent_id, -1.0) < 1.0:
            return False
        self.completions_marked[agent_id] = now
        return True

    def reserve(self, run_id: str, row: Any = None) -> bool:
        """Take a local slot for a run about to start here, if one is free.

        ``row``, the run as just stored, spares its first read.
        """
        s = self.rt.settings
        if not s.worker or len(self.active) + len(self.reserved) >= s.concurrency:
            return False
        self.reserved.add(run_id)
        if row is not None:
            self.fresh[run_id] = row
        return True

    def runs_here(self, run_id: str) -> bool:
        """Whether the run is executing (or about to) in this process."""
        return run_id in self.active or run_id in self.reserved

    def release(self, run_id: str) -> None:
        """Give back a slot reserved for a run that did not start here."""
        self.reserved.discard(run_id)
        self.fresh.pop(run_id, None)

    def cancel_local(self, run_id: str) -> bool:
        """Interrupt the run's agent if it runs in this process."""
        task = self.tasks.get(run_id)
        if task is None:
            return False
        self.cancel_requested.add(run_id)
        task.cancel()
        return True

    async def execute(self, run_id: str) -> str:
        """Run (or resume) one run to its end; return its final status."""
        self.reserved.discard(run_id)
        self.active.add(run_id)
        try:
            return await self._execute(run_id)
        except runs_store.StaleRun:
            # Another executor wrote this run's log: it owns the run now (fencing).
            log.warning("run %s was taken over elsewhere; stopping here", run_id)
            return "stale"
        finally:
            self.rt.graphs.streams.finish(run_id)
            self.active.discard(run_id)
            self.tasks.pop(run_id, None)
            self.cancel_requested.discard(run_id)

    async def _execute(self, run_id: str) -> str:
        run = self.fresh.pop(run_id, None)
        step_rows: list[Any] = []
        decided: dict[str, Any] = {}
        # A run just created here is known whole and has no steps or decisions yet,
        # unless it reuses another run's steps.
        if run is None or run["from_step"]:
            async with self.rt.db.read() as conn:
                run = run or await runs_store.get_run(conn, None, run_id)
                # Only a run that started before, or reuses a run's steps, has steps yet.
                if run is not None and (run["started_at"] or run["from_step"]):
                    step_rows = await runs_store.list_steps(conn, run_id)
                if run is not None and run["segment"] > 0:
                    decided = await approvals_store.decided_for_run(conn, run_id)
        if run is None:
            return "missing"
        status = RunStatus(run["status"])
        if status.terminal:
            return str(status)
        steps = {
            r["number"]: StepRecord(
                r["number"], r["name"], r["status"], r["output"], r["error"], r["reused_from"]
            )
            for r in step_rows
        }
        journal = RunJournal(self.rt, run_id, Chain(run["last_seq"], run["last_hash"]), steps)
        journal.row = dict(run)
        now = utcnow()
        if run["cancel_requested_at"] is not None:
            return await self._finish_canceled(journal, run, status, None, [], [])
        spec = self.rt.project.get(run["agent_name"])
        if spec is None or not await self._revision_loaded(run, spec):
            return await self._finish(
                journal,
                status,
                RunStatus.FAILED,
                error={
                    "code": "revision_unavailable",
                    "message": f"the code of revision {run['revision_id']} is not loaded here",
                    "step": None,
                    "retryable": False,
                },
            )
        if spec.kind == "langgraph" and status == RunStatus.QUEUED:
            # Runs of one thread go one at a time, in the order they were created.
            if await self.rt.graphs.wait_turn(run):
                async with self.rt.db.read() as conn:
                    run = await runs_store.get_run(conn, None, run_id)
                if run is None or RunStatus(run["status"]).terminal:
                    return str(run["status"]) if run else "missing"
                journal.row = dict(run)
                journal.chain = Chain(run["last_seq"], run["last_hash"])
                if run["cancel_requested_at"] is not None:
                    return await self._finish_canceled(journal, run, status, None, [], [])
        if status == RunStatus.QUEUED:
            transition(status, RunStatus.RUNNING)
            journal.pending_fields = {"status": RunStatus.RUNNING, "started_at": now}
            journal.pending_expect = RunStatus.QUEUED
            status = RunStatus.RUNNING
            started_at = now
        else:
            started_at = run["started_at"] or now
        segment_started = time.monotonic()
        ctx = RunContext(
            run_id=run_id,
            tenant_id=run["tenant_id"],
            gate=ToolGate(self.rt, run),
            policy=RunPolicy(
                integrations=run["integrations"] if run["integrations"] is not None else [],
                approval=run["approval"],
                rules=run["approval_rules"] or [],
                plans_first=spec.plans_first,
                describe=_describe(spec, run),
            ),
            input=run["input"],
            variables={**spec.variables, **(run["variables"] or {})},
            context=run["context"] or {},
            user_id=run["user_id"],
            metadata=run["metadata"] or {},
            model=run["model"],
            journal=journal,
            replay=Replay(
                last_op=run["last_op"],
                steps=steps,
                approvals={k: dict(v) for k, v in decided.items()},
            ),
        )
        if spec.kind == "langgraph":
            ctx.flush_delay = GRAPH_FLUSH_DELAY
        if journal.pending_fields:
            ctx.begin(status_event(RunStatus.RUNNING))
        # Time spent waiting for people does not count against the run's limit.
        segment_start = run["resumed_at"] or started_at
        budget = run["timeout_seconds"] - float(run["active_seconds"] or 0)
        deadline = segment_start + timedelta(seconds=budget)
        remaining = max(0.0, (deadline - utcnow()).total_seconds())
        body = (
            self.rt.graphs.execute(spec, ctx, run)
            if spec.kind == "langgraph"
            else _call_agent(spec, ctx)
        )
        task = asyncio.get_running_loop().create_task(body)
        self.tasks[run_id] = task
        done, _ = await asyncio.wait({task}, timeout=remaining)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await ctx.close()
            error = {
                "code": "timeout",
                "message": f"the run took longer than {run['timeout_seconds']:g} s",
                "step": ctx.current_step,
                "retryable": True,
            }
            events, steps_out, last_op = ctx.take_pending(interrupted=error)
            return await self._finish(
                journal,
                status,
                RunStatus.FAILED,
                error=error,
                events=events,
                steps=steps_out,
                last_op=last_op,
            )
        await ctx.close()
        if task.cancelled():
            step = ctx.current_step
            stopped = {
                "code": "canceled",
                "message": "the run was canceled",
                "step": step,
                "retryable": False,
            }
            events, steps_out, last_op = ctx.take_pending(interrupted=stopped)
            return await self._finish_canceled(
                journal, run, status, step, events, steps_out, last_op
            )
        events, steps_out, last_op = ctx.take_pending()
        journal.extra_fields = ctx.take_fields()
        exc = task.exception()
        if isinstance(exc, Suspend):
            return await waits.suspend(
                self.rt,
                journal,
                run,
                status,
                exc,
                events,
                steps_out,
                last_op,
                journal.take_extra(),
                segment_started,
            )
        if exc is not None:
            return await self._finish(
                journal,
                status,
                RunStatus.FAILED,
                error=error_info(exc, getattr(exc, "runplane_step", ctx.current_step)),
                events=events,
                steps=steps_out,
                last_op=last_op,
            )
        try:
            result = _make_result(spec, task.result(), ctx.sources)
        except RunError as bad:
            return await self._finish(
                journal,
                status,
                RunStatus.FAILED,
                error=error_info(bad, None),
                events=events,
                steps=steps_out,
                last_op=last_op,
            )
        return await self._finish(
            journal,
            status,
            RunStatus.SUCCEEDED,
            result=result,
            events=events,
            steps=steps_out,
            last_op=last_op,
            agent_id=run["agent_id"],
        )

    async def _revision_loaded(self, run: Any, spec: AgentSpec) -> bool:
        rev = await agents_svc.revision_content(self.rt, run["agent_id"], run["revision_id"])
        return rev is not None and rev["hash"] == spec.content_hash()

    async def _finish_canceled(
        self,
        journal: RunJournal,
        run: Any,
        status: RunStatus,
        step: int | None,
        events: list[NewEvent],
        steps: list[StepRecord],
        last_op: int | None = None,
    ) -> str:
        requested = run["cancel_requested_at"] or utcnow()
        if run["cancel_requested_at"] is None:
            async with self.rt.db.read() as conn:
                fresh = await runs_store.get_run(conn, None, run["id"])
            requested = (fresh and fresh["cancel_requested_at"]) or utcnow()
        receipt = {
            "requested_at": requested,
            "stopped_at": utcnow(),
            "step": step,
            "children_ended": True,
        }
        return await self._finish(
            journal,
            status,
            RunStatus.CANCELED,
            receipt=receipt,
            events=events,
            steps=steps,
            last_op=last_op,
        )

    async def _finish(
        self,
        journal: RunJournal,
        current: RunStatus,
        final: RunStatus,
        *,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        receipt: dict[str, Any] | None = None,
        events: list[NewEvent] | None = None,
        steps: list[StepRecord] | None = None,
        last_op: int | None = None,
        agent_id: str | None = None,
    ) -> str:
        transition(current, final)
        now = utcnow()
        closing = list(events or [])
        if result is not None:
            closing.append(NewEvent("result", result, now))
        if error is not None:
            closing.append(NewEvent("error", error, now))
        extra: dict[str, Any] = {}
        if receipt is not None:
            extra["receipt"] = _jsonable_receipt(receipt)
        closing.append(status_event(final, **extra))
        fields: dict[str, Any] = {**journal.take_extra(), "status": final, "finished_at": now}
        if result is not None:
            fields["result"] = result
        if error is not None:
            fields["error"] = error
        if receipt is not None:
            fields["cancel_receipt"] = _jsonable_receipt(receipt)
        if last_op is not None:
            fields["last_op"] = last_op
        if agent_id is not None and not self._completion_due(agent_id):
            agent_id = None
        await journal.commit(
            closing, list(steps or []), fields, expect_status=str(current), completed_agent=agent_id
        )
        if journal.row.get("notify"):
            webhooks.send(self.rt, journal.row, "run.finished", {"status": str(final)})
        return str(final)


def _jsonable_receipt(receipt: dict[str, Any]) -> dict[str, Any]:
    return {k: iso(v) if hasattr(v, "tzinfo") else v for k, v in receipt.items()}


def _describe(spec: AgentSpec, run: Any) -> str:
    what = spec.description.splitlines()[0] if spec.description else f"Run the {spec.name} agent."
    return f"{what} Input: {json.dumps(run['input'], default=str)[:500]}"


async def _call_agent(spec: AgentSpec, ctx: RunContext) -> Any:
    await ctx.ensure_planned()
    value: Any = ctx.input
    if spec.input_model is not None:
        value = spec.input_model.model_validate(ctx.input if ctx.input is not None else {})
    return await spec.fn(ctx, value)


def _make_result(spec: AgentSpec, output: Any, sources: list[dict[str, Any]]) -> dict[str, Any]:
    if hasattr(output, "model_dump"):
        output = output.model_dump(mode="json")
    if spec.output == "document":
        if not isinstance(output, str):
            raise RunError(
                f"a document agent must return markdown text, not {type(output).__name__}",
                code="invalid_output",
            )
        return {"type": "document", "content": output, "sources": sources}
    if spec.output_schema is not None:
        try:
            jsonschema.validate(output, spec.output_schema)
        except jsonschema.ValidationError as exc:
            raise RunError(
                f"output does not match output_schema: {exc.message}", code="invalid_output"
            ) from exc
    return {"type": "json", "content": output, "sources": sources}
