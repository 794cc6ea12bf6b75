"""Runs that wait hold nothing: pausing one, resuming it, and ending it while it waits.

A waiting run's attempt ends with the wait recorded (status, approval row, events) in
one transaction. Resuming moves it back to ``running`` and submits a new durable
segment of its workflow, which replays the run up to where it stopped and carries on.
"""

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import cast

from runplane.domain.errors import Conflict
from runplane.domain.events import (
    ApprovalRequiredData,
    CancelReceipt,
    ErrorData,
    ResultData,
    StatusNote,
    WaitingOn,
)
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import (
    NewApproval,
    NewEvent,
    RunRecord,
    StepRecord,
    WebhookDeliveryRecord,
    iso,
    utcnow,
)
from runplane.engine.hub import EventHub
from runplane.engine.metrics import Metrics
from runplane.engine.outcome import Suspend
from runplane.engine.ports import RunHooks
from runplane.engine.writer import RunWriter
from runplane.store import approvals as approvals_store
from runplane.store import notify
from runplane.store import runs as runs_store
from runplane.store import webhook_deliveries as deliveries_store
from runplane.store.db import Conn, Database
from runplane.store.runs import Chain, Move, StaleRun

log = logging.getLogger("runplane.waits")
# An async ``write(conn)`` that commits in the same transaction as a status move.
Write = Callable[[Conn], Awaitable[None]]
# Submits a run's next segment to the engine (``Worker.submit``).
Submit = Callable[[str, int], Awaitable[None]]


class Waits:
    """Pauses, resumes and ends waiting runs; used by the worker and, through it, services."""

    def __init__(self, db: Database, hub: EventHub, hooks: RunHooks, submit: Submit) -> None:
        self.db = db
        self.hub = hub
        self.metrics: Metrics | None = None  # runs ended here are counted (engine/metrics.py)
        self.hooks = hooks
        self.submit = submit

    async def suspend(
        self,
        writer: RunWriter,
        wait: Suspend,
        events: list[NewEvent],
        steps: list[StepRecord],
        last_op: int,
        fields: dict[str, object],
        segment_started: float,
    ) -> str:
        """End this attempt with the run waiting: one transaction, nothing held after."""
        run, now = writer.run, utcnow()
        closing = list(events)
        approval_row: NewApproval | None = None
        announce: ApprovalRequiredData | None = None
        if wait.approval is not None:
            approval_row, announce = self.hooks.new_approval(run, wait.approval, now)
            closing.append(NewEvent("approval.required", announce, now))
        if wait.event is not None:
            closing.append(NewEvent(wait.event[0], wait.event[1], now))
        waiting_on: WaitingOn = {**wait.waiting_on}
        if approval_row is not None:
            waiting_on["approval_id"] = approval_row["id"]
        active = float(run["active_seconds"] or 0) + (time.monotonic() - segment_started)
        columns: dict[str, object] = {
            **fields,
            "waiting_on": waiting_on,
            "active_seconds": active,
            "last_op": max(last_op, wait.op or 0),
        }

        async def record(conn: Conn) -> None:
            if approval_row is not None:
                await approvals_store.insert_approval(conn, approval_row)

        then = Move(wait.status, {"waiting_on": waiting_on})
        await writer.commit(closing, steps, columns, then=then, also=record, approval=announce)
        # A cancel asked for while the attempt was ending found no task to stop: do it now.
        async with self.db.read() as conn:
            again = await runs_store.get_run(conn, None, run["id"])
        if again is not None and again["cancel_requested_at"] and again["status"] == wait.status:
            receipt = cancel_receipt(again["cancel_requested_at"])
            await self.end_idle(again, RunStatus.CANCELED, [], receipt=receipt)
            return str(RunStatus.CANCELED)
        child_id = waiting_on.get("child_run_id")
        if again is not None and child_id:
            # The child may have ended before this wait was written, finding nobody waiting.
            async with self.db.read() as conn:
                child = await runs_store.get_run(conn, run["tenant_id"], child_id)
            if child is None or RunStatus(child["status"]).terminal:
                await self._wake(again, child_id)
        return str(wait.status)

    async def wake_parent(self, child: RunRecord) -> None:
        """Resume the run that waits for this (ended) child run, if one does."""
        parent_id = child["parent_run_id"]
        if not parent_id:
            return
        try:
            async with self.db.read() as conn:
                parent = await runs_store.get_run(conn, child["tenant_id"], parent_id)
        except Exception:
            # The sweep (``wake_waiting_parents``) wakes it later.
            log.exception("reading the parent of run %s failed", child["id"])
            return
        if parent is not None:
            await self._wake(parent, child["id"])

    async def wake_waiting_parents(self) -> int:
        """Resume paused parents whose child has ended (a wake lost in a crash); how many."""
        async with self.db.read() as conn:
            parents = await runs_store.waiting_for_children(conn)
            ended = []
            for parent in parents:
                child_id = str((parent["waiting_on"] or {})["child_run_id"])
                child = await runs_store.get_run(conn, parent["tenant_id"], child_id)
                if child is None or RunStatus(child["status"]).terminal:
                    ended.append((parent, child_id))
        for parent, child_id in ended:
            await self._wake(parent, child_id)
        return len(ended)

    async def _wake(self, parent: RunRecord, child_id: str) -> None:
        """Resume ``parent`` if it is paused waiting for ``child_id``; a lost race is fine."""
        waiting = (parent["waiting_on"] or {}).get("child_run_id")
        if parent["status"] != RunStatus.PAUSED or waiting != child_id:
            return
        # A fresh context: inside a run's workflow (the child's end, the parent's wait),
        # the durable engine would take the parent's next segment for a child of it.
        resume = self.resume(parent, [], reason=f"child run {child_id} ended")
        task = asyncio.get_running_loop().create_task(resume, context=contextvars.Context())
        try:
            await task
        except Conflict:
            pass  # another process (or the child's end) resumed it first
        except Exception:
            log.exception("resuming run %s after its child %s failed", parent["id"], child_id)

    async def resume(
        self,
        run: RunRecord,
        events: list[NewEvent],
        *,
        also: Write | None = None,
        reason: str | None = None,
    ) -> None:
        """Move a waiting run back to ``running`` and submit its next segment."""
        segment, now = int(run["segment"]) + 1, utcnow()
        data: StatusNote = {"reason": reason} if reason else {}
        fields = {"waiting_on": None, "segment": segment, "resumed_at": now, "updated_at": now}
        move = Move(RunStatus.RUNNING, data)
        deliveries = await self._deliveries(run, move, events, resumed=True)
        try:
            async with self.db.write() as conn:
                await _move_idle(conn, run, move, events, fields, also, deliveries)
        except StaleRun as exc:
            raise Conflict(
                f"run {run['id']} changed meanwhile; look again",
                [{"name": "run_id", "value": run["id"]}],
            ) from exc
        if deliveries:
            self.hooks.delivered_soon()
        self.hub.notify(run["id"], RunStatus.RUNNING)
        await self.submit(run["id"], segment)

    async def end_idle(
        self,
        run: RunRecord,
        final: RunStatus,
        events: list[NewEvent],
        *,
        receipt: CancelReceipt | None = None,
        error: ErrorData | None = None,
        result: ResultData | None = None,
        also: Write | None = None,
    ) -> None:
        """End a run that no worker holds (queued or waiting), at once."""
        now = utcnow()
        fields: dict[str, object] = {"finished_at": now, "updated_at": now, "waiting_on": None}
        data: StatusNote = {}
        if receipt is not None:
            fields["cancel_receipt"] = data["receipt"] = receipt
        if final == RunStatus.CANCELED and run["cancel_requested_at"] is None:
            fields["cancel_requested_at"] = now
        if error is not None:
            fields["error"] = error
            events = [*events, NewEvent("error", error, now)]
        if result is not None:
            fields["result"] = result
            events = [*events, NewEvent("result", result, now)]
        move = Move(final, data)
        deliveries = await self._deliveries(cast(RunRecord, {**run, **fields}), move, events)
        async with self.db.write() as conn:
            await _move_idle(conn, run, move, events, fields, also, deliveries)
            await approvals_store.close_pending(conn, run["id"], "canceled", now)
        if deliveries:
            self.hooks.delivered_soon()
        self.hub.notify(run["id"], final)
        if self.metrics is not None:
            self.metrics.run_moved(run, started=False, to=final, at=now)
        await self.wake_parent(run)

    async def _deliveries(
        self, run: RunRecord, move: Move, events: list[NewEvent], *, resumed: bool = False
    ) -> list[WebhookDeliveryRecord]:
        """The webhook outbox rows of a move of a run no attempt holds (after ``events``)."""
        position = int(run["last_seq"]) + len(events) + 1
        return await self.hooks.lifecycle(run, [(move.to, position)], resumed=resumed)


async def _move_idle(
    conn: Conn,
    run: RunRecord,
    move: Move,
    events: list[NewEvent],
    fields: Mapping[str, object],
    also: Write | None,
    deliveries: Sequence[WebhookDeliveryRecord] = (),
) -> None:
    """Move a run no attempt holds, from the row as read, with ``also`` and the move's
    webhook outbox rows in the same write."""
    if also is not None:
        await also(conn)
    chain = Chain(run["last_seq"], run["last_hash"])
    await runs_store.move_run(
        conn, run["id"], chain, run["status"], after=move, new_events=events, fields=fields
    )
    await deliveries_store.insert_many(conn, deliveries)
    await notify.announce(conn, run["id"])


def cancel_receipt(requested: datetime, step: int | None = None) -> CancelReceipt:
    """What a canceled run's receipt says: when it was asked, when it stopped, where."""
    return {
        "requested_at": iso(requested),
        "stopped_at": iso(utcnow()),
        "step": step,
        "children_ended": True,
    }
