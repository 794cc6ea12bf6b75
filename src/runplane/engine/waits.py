"""Runs that wait hold nothing: pausing one, resuming it, and ending it while it waits.

A waiting run's attempt ends with the wait recorded (status, approval row, events) in
one transaction. Resuming moves it back to ``running`` and submits a new durable
segment of its workflow, which replays the run up to where it stopped and carries on.
"""

import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

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
from runplane.domain.models import NewApproval, NewEvent, RunRecord, StepRecord, iso, utcnow
from runplane.engine.hub import EventHub
from runplane.engine.outcome import Suspend
from runplane.engine.ports import RunHooks
from runplane.engine.writer import RunWriter
from runplane.store import approvals as approvals_store
from runplane.store import notify
from runplane.store import runs as runs_store
from runplane.store.db import Conn, Database
from runplane.store.runs import Chain, Move, StaleRun

# An async ``write(conn)`` that commits in the same transaction as a status move.
Write = Callable[[Conn], Awaitable[None]]
# Submits a run's next segment to the engine (``Worker.submit``).
Submit = Callable[[str, int], Awaitable[None]]


class Waits:
    """Pauses, resumes and ends waiting runs; used by the worker and, through it, services."""

    def __init__(self, db: Database, hub: EventHub, hooks: RunHooks, submit: Submit) -> None:
        self.db = db
        self.hub = hub
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
        await writer.commit(closing, steps, columns, then=then, also=record)
        if announce is not None and run["notify"]:
            self.hooks.notify(writer.run, "approval.required", {"approval": announce})
        # A cancel asked for while the attempt was ending found no task to stop: do it now.
        async with self.db.read() as conn:
            again = await runs_store.get_run(conn, None, run["id"])
        if again is not None and again["cancel_requested_at"] and again["status"] == wait.status:
            receipt = cancel_receipt(again["cancel_requested_at"])
            await self.end_idle(again, RunStatus.CANCELED, [], receipt=receipt)
            return str(RunStatus.CANCELED)
        return str(wait.status)

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
        try:
            async with self.db.write() as conn:
                await _move_idle(conn, run, Move(RunStatus.RUNNING, data), events, fields, also)
        except StaleRun as exc:
            raise Conflict(
                f"run {run['id']} changed meanwhile; look again",
                [{"name": "run_id", "value": run["id"]}],
            ) from exc
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
        async with self.db.write() as conn:
            await _move_idle(conn, run, Move(final, data), events, fields, also)
            await approvals_store.close_pending(conn, run["id"], "canceled", now)
        self.hub.notify(run["id"], final)
        if run["notify"]:
            self.hooks.notify(run, "run.finished", {"status": str(final)})


async def _move_idle(
    conn: Conn,
    run: RunRecord,
    move: Move,
    events: list[NewEvent],
    fields: Mapping[str, object],
    also: Write | None,
) -> None:
    """Move a run no attempt holds, from the row as read, with ``also`` in the same write."""
    if also is not None:
        await also(conn)
    chain = Chain(run["last_seq"], run["last_hash"])
    await runs_store.move_run(
        conn, run["id"], chain, run["status"], after=move, new_events=events, fields=fields
    )
    await notify.announce(conn, run["id"])


def cancel_receipt(requested: datetime, step: int | None = None) -> CancelReceipt:
    """What a canceled run's receipt says: when it was asked, when it stopped, where."""
    return {
        "requested_at": iso(requested),
        "stopped_at": iso(utcnow()),
        "step": step,
        "children_ended": True,
    }
