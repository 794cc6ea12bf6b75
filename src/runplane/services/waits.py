"""Pausing a run for a person or a credential, and resuming it.

A waiting run holds no worker slot and no task: its attempt ends with the wait
recorded (status, approval row, events) in one transaction. Resuming moves it back
to ``running`` and starts a new durable segment of its workflow, which replays the
run up to where it stopped and carries on.
"""

import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from runplane.domain.errors import Conflict
from runplane.domain.ids import new_id
from runplane.domain.lifecycle import RunStatus, transition
from runplane.domain.models import NewEvent, iso, utcnow
from runplane.engine.context import StepRecord, Suspend
from runplane.services import webhooks
from runplane.services.crypto import token_hash
from runplane.services.runtime import Runtime
from runplane.store import approvals as approvals_store
from runplane.store import notify
from runplane.store import runs as runs_store
from runplane.store.db import Conn
from runplane.store.runs import Chain, StaleRun

Row = Mapping[str, Any]


def status_event(status: RunStatus, **extra: Any) -> NewEvent:
    """The ``status`` event that every transition appends."""
    return NewEvent("status", {"status": str(status), **extra}, utcnow())


def approval_link(rt: Runtime, token: str) -> str:
    """The URL a person opens to see and decide an approval."""
    return f"{rt.settings.base_url}/v1/runs/approval?token={token}"


def new_approval(
    rt: Runtime, run: Row, asked: dict[str, Any], now: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The approval row for a wait, and the ``approval.required`` event data."""
    approval_id = new_id("apr")
    expiry = run["approval_expiry"] or {}
    expires_at = now + timedelta(seconds=expiry["seconds"]) if expiry.get("seconds") else None
    link_until = now.timestamp() + rt.settings.approval_link_ttl
    if expires_at is not None:
        link_until = min(link_until, expires_at.timestamp())
    token = rt.keys.sign_link(approval_id, run["tenant_id"], link_until)
    row = {
        "id": approval_id,
        "tenant_id": run["tenant_id"],
        "run_id": run["id"],
        "key": asked["key"],
        "kind": asked["kind"],
        "status": "pending",
        "request": asked["request"],
        "expires_at": expires_at,
        "default_action": expiry.get("default_action") if expires_at else None,
        "token_hash": token_hash(token),
        "created_at": now,
    }
    data = {
        "approval_id": approval_id,
        "kind": asked["kind"],
        "request": asked["request"],
        "link": approval_link(rt, token),
        "link_expires_at": iso(datetime.fromtimestamp(link_until, UTC)),
        "expires_at": iso(expires_at) if expires_at else None,
        "default_action": row["default_action"],
    }
    return row, data


async def suspend(
    rt: Runtime,
    journal: Any,
    run: Row,
    current: RunStatus,
    wait: Suspend,
    events: list[NewEvent],
    steps: list[StepRecord],
    last_op: int,
    fields: dict[str, Any],
    segment_started: float,
) -> str:
    """End this attempt with the run waiting: one transaction, nothing held after."""
    final = transition(current, wait.status)
    now = utcnow()
    closing = list(events)
    approval_row: dict[str, Any] | None = None
    announce: dict[str, Any] | None = None
    if wait.approval is not None:
        approval_row, announce = new_approval(rt, run, wait.approval, now)
        closing.append(NewEvent("approval.required", announce, now))
    if wait.event is not None:
        closing.append(NewEvent(wait.event[0], wait.event[1], now))
    waiting_on = dict(wait.waiting_on)
    if approval_row is not None:
        waiting_on["approval_id"] = approval_row["id"]
    closing.append(status_event(final, waiting_on=waiting_on))
    active = float(run["active_seconds"] or 0) + (time.monotonic() - segment_started)
    columns = {
        **fields,
        "status": final,
        "waiting_on": waiting_on,
        "active_seconds": active,
        "last_op": max(last_op, wait.op or 0),
    }

    async def record(conn: Conn) -> None:
        if approval_row is not None:
            await approvals_store.insert_approval(conn, approval_row)

    await journal.commit(closing, steps, columns, expect_status=str(current), also=record)
    if announce is not None and run["notify"]:
        webhooks.send(rt, run, "approval.required", {"approval": announce})
    # A cancel asked for while the attempt was ending found no task to stop: do it now.
    async with rt.db.read() as conn:
        fresh = await runs_store.get_run(conn, None, run["id"])
    if fresh is not None and fresh["cancel_requested_at"] and fresh["status"] == final:
        receipt = {
            "requested_at": iso(fresh["cancel_requested_at"]),
            "stopped_at": iso(utcnow()),
            "step": None,
            "children_ended": True,
        }
        await end_waiting(rt, fresh, RunStatus.CANCELED, [], receipt=receipt)
        return str(RunStatus.CANCELED)
    return str(final)


async def resume(
    rt: Runtime,
    run: Row,
    events: list[NewEvent],
    also: Callable[[Conn], Awaitable[None]] | None = None,
    reason: str | None = None,
) -> None:
    """Move a waiting run back to ``running`` and start its next segment."""
    current = RunStatus(run["status"])
    transition(current, RunStatus.RUNNING)
    segment, now = int(run["segment"]) + 1, utcnow()
    extra = {"reason": reason} if reason else {}
    try:
        async with rt.db.write() as conn:
            if also is not None:
                await also(conn)
            await runs_store.commit_changes(
                conn,
                run["id"],
                Chain(run["last_seq"], run["last_hash"]),
                new_events=[*events, status_event(RunStatus.RUNNING, **extra)],
                fields={
                    "status": RunStatus.RUNNING,
                    "waiting_on": None,
                    "segment": segment,
                    "resumed_at": now,
                    "updated_at": now,
                },
                expect_status=str(current),
            )
            await notify.announce(conn, run["id"])
    except StaleRun as exc:
        raise Conflict(
            f"run {run['id']} changed meanwhile; look again",
            [{"name": "run_id", "value": run["id"]}],
        ) from exc
    rt.hub.notify(run["id"], RunStatus.RUNNING)
    here = rt.runner.reserve(run["id"])
    try:
        await rt.engine.submit(run["id"], here=here, segment=segment)
    finally:
        if not here:
            rt.runner.release(run["id"])


async def end_waiting(
    rt: Runtime,
    run: Row,
    final: RunStatus,
    events: list[NewEvent],
    *,
    receipt: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    result: dict[str, Any] | None = None,
    also: Callable[[Conn], Awaitable[None]] | None = None,
) -> None:
    """End a run that no worker holds (queued or waiting), at once."""
    current = RunStatus(run["status"])
    transition(current, final)
    now = utcnow()
    fields: dict[str, Any] = {
        "status": final,
        "finished_at": now,
        "updated_at": now,
        "waiting_on": None,
    }
    extra: dict[str, Any] = {}
    if receipt is not None:
        fields["cancel_receipt"] = extra["receipt"] = receipt
    if final == RunStatus.CANCELED and run["cancel_requested_at"] is None:
        fields["cancel_requested_at"] = now
    if error is not None:
        fields["error"] = error
        events = [*events, NewEvent("error", error, now)]
    if result is not None:
        fields["result"] = result
        events = [*events, NewEvent("result", result, now)]
    async with rt.db.write() as conn:
        if also is not None:
            await also(conn)
        await runs_store.commit_changes(
            conn,
            run["id"],
            Chain(run["last_seq"], run["last_hash"]),
            new_events=[*events, status_event(final, **extra)],
            fields=fields,
            expect_status=str(current),
        )
        await approvals_store.close_pending(conn, run["id"], "canceled", now)
        await notify.announce(conn, run["id"])
    rt.hub.notify(run["id"], final)
    if run["notify"]:
        webhooks.send(rt, run, "run.finished", {"status": str(final)})
