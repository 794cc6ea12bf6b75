"""Runs of hosted graphs over the Agent Protocol: stateless and on threads.

These are runplane runs (``/v1/runs`` lists them) with a thread, an assistant and
the protocol's options. Runs of one thread go one at a time; ``multitask_strategy``
says what a new run does to the ones in progress.
"""

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import timedelta
from typing import NamedTuple, TypedDict

from runplane.domain.errors import Conflict, Gone, NotFound
from runplane.domain.ids import new_id
from runplane.domain.json import JSON, JSONObject, as_object
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import Principal, RunRecord, utcnow
from runplane.domain.roles import Permission
from runplane.graphs.streams import RunStream
from runplane.schemas import RunCreate
from runplane.schemas.agent_protocol import RunCreateBody, ThreadCreate, ts
from runplane.services import assistants as assistants_svc
from runplane.services import run_deletion
from runplane.services import runs as runs_svc
from runplane.services import threads as threads_svc
from runplane.services.runtime import Runtime
from runplane.services.webhooks import check_webhook
from runplane.store import graphs as store

WAIT_FOREVER = 600.0
SETTLED = frozenset({RunStatus.PAUSED, RunStatus.AUTH_REQUIRED})
_ENDED = {"succeeded", "failed", "canceled", "paused", "auth_required"}


class ProtocolRun(TypedDict):
    """A run as the Agent Protocol shows it."""

    run_id: str
    thread_id: str
    assistant_id: str | None
    created_at: str | None
    updated_at: str | None
    status: str
    metadata: JSONObject
    multitask_strategy: JSON
    kwargs: JSONObject
    cancel_reason: str | None


def _merge_config(base: JSONObject, over: JSONObject | None) -> JSONObject:
    over = over or {}
    merged = {**base, **over}
    configurable = {
        **as_object(base.get("configurable")),
        **as_object(over.get("configurable")),
    }
    if configurable:
        merged["configurable"] = configurable
    return merged


async def create(
    rt: Runtime,
    who: Principal,
    thread_id: str | None,
    body: RunCreateBody,
    *,
    run_id: str | None = None,
    trigger: str = "api",
    wait: bool = False,
    listener: str | None = None,
) -> RunRecord:
    """Record and start a graph run (on a thread, or on a temporary one).

    With ``wait``, answer once the run has ended or paused. ``listener`` is the executor
    id of the process that streams the run to its client: a worker elsewhere relays the
    parts to it.
    """
    # Checked before anything is written (a thread made for the run, older runs stopped).
    who.require(Permission.CREATE_RUNS)
    if body.multitask_strategy == "rollback":
        who.require(Permission.DELETE)  # rolling back deletes the runs in progress
    check_webhook(rt.settings, "webhook", body.webhook)
    assistant = await assistants_svc.get(rt, who, body.assistant_id)
    if thread_id is None and body.on_completion == "keep":
        thread = await threads_svc.create(rt, who, ThreadCreate())
        thread_id = thread["id"]
    continues = False
    if thread_id is not None:
        continues = await _prepare_thread(rt, who, thread_id, body)
    opts: dict[str, object] = {
        "stream_mode": body.modes(),
        "stream_subgraphs": body.stream_subgraphs,
        "interrupt_before": body.interrupt_before,
        "interrupt_after": body.interrupt_after,
        "command": body.command.model_dump(exclude_none=True) if body.command else None,
        "config": _merge_config(assistant["config"], body.config),
        "checkpoint": body.checkpoint,
        "checkpoint_id": body.checkpoint_id,
        "multitask_strategy": body.multitask_strategy,
        "on_completion": body.on_completion,
        "on_disconnect": body.on_disconnect,
        "after_seconds": body.after_seconds,
        "durability": body.durability,
        "continues_interrupt": continues,
        "listener": listener,
        # Where it was created: a worker elsewhere checks for listeners that joined early.
        "origin": rt.engine.executor_id,
    }
    opts = {k: v for k, v in opts.items() if v is not None and v is not False}
    run_body = RunCreate(
        agent_id=assistant["graph_id"],
        input=body.input,
        metadata=body.metadata or {},
        context={**assistant["context"], **(body.context or {})},
        trigger=trigger,  # type: ignore[arg-type]
        notify={"webhook": body.webhook} if body.webhook else None,  # type: ignore[arg-type]
        wait=WAIT_FOREVER if wait else None,
    )
    extra = {"thread_id": thread_id, "assistant_id": assistant["id"], "graph": opts}
    # A delayed run is a scheduled start: it holds no slot until it is due.
    not_before = utcnow() + timedelta(seconds=body.after_seconds) if body.after_seconds else None
    run = await runs_svc.create_run(
        rt, who, run_body, run_id=run_id, extra=extra, wait_until=SETTLED, not_before=not_before
    )
    return await _settled(rt, who, run) if wait else run


async def create_batch(rt: Runtime, who: Principal, bodies: list[RunCreateBody]) -> list[RunRecord]:
    """Start several stateless runs; all or none, as far as the tenant's queued quota goes."""
    who.require(Permission.CREATE_RUNS)
    for i, body in enumerate(bodies):  # refused before any is created
        check_webhook(rt.settings, f"{i}.webhook", body.webhook)
    await rt.worker.admission.check_room(who.tenant_id, len(bodies))
    return [await create(rt, who, None, b) for b in bodies]


async def _prepare_thread(rt: Runtime, who: Principal, thread_id: str, body: RunCreateBody) -> bool:
    """Create the thread if asked and apply the multitask strategy.

    Tell whether the thread stopped at an interrupt (this run carries on from it).
    """
    async with rt.db.read() as conn:
        thread = await store.get_thread(conn, who.tenant_id, thread_id)
        active = (
            []
            if thread is None
            else await store.thread_runs(conn, who.tenant_id, thread_id, statuses=store.ACTIVE)
        )
    if thread is None:
        if body.if_not_exists != "create":
            raise threads_svc.missing(thread_id)
        thread = await threads_svc.create(rt, who, ThreadCreate(thread_id=thread_id))
    if active:
        if body.multitask_strategy == "reject":
            raise Conflict(
                f"thread {thread_id} has a run in progress (multitask_strategy is reject)",
                [{"name": "thread_id", "value": thread_id}],
            )
        if body.multitask_strategy in ("interrupt", "rollback"):
            for old in active:
                await cancel(
                    rt, who, thread_id, old["id"], wait=True, action=body.multitask_strategy
                )
    return bool(thread["status"] == "interrupted" or active)


async def get(rt: Runtime, who: Principal, thread_id: str, run_id: str) -> RunRecord:
    """A graph run of the thread (for a stateless run, its run id is its thread id).

    A deleted one is not found, as LangGraph answers (the native API says 410 Gone).
    """
    try:
        run = await runs_svc.get_run(rt, who, run_id)
    except Gone as exc:
        raise NotFound(exc.message, exc.details) from None
    if run["assistant_id"] is None or (run["thread_id"] or run["id"]) != thread_id:
        raise NotFound(
            f"thread {thread_id} has no run {run_id!r}", [{"name": "run_id", "value": run_id}]
        )
    return run


async def list_for_thread(
    rt: Runtime, who: Principal, thread_id: str, limit: int, offset: int, status: str | None
) -> list[RunRecord]:
    """A thread's runs, newest first."""
    await threads_svc.get(rt, who, thread_id)
    statuses = [s for s, lg in _STATUS.items() if lg == status] if status else None
    async with rt.db.read() as conn:
        return await store.thread_runs(
            conn, who.tenant_id, thread_id, statuses=statuses, limit=limit, offset=offset
        )


async def wait(rt: Runtime, who: Principal, run: RunRecord) -> RunRecord:
    """The run once it ended or paused."""
    return await _settled(rt, who, run)


async def _settled(rt: Runtime, who: Principal, run: RunRecord) -> RunRecord:
    while run["status"] not in _ENDED:
        run = await runs_svc.wait_for_run(rt, who, run["id"], WAIT_FOREVER, until=SETTLED)
    return run


async def cancel(
    rt: Runtime, who: Principal, thread_id: str, run_id: str, *, wait: bool, action: str
) -> RunRecord:
    """Stop a run: ``interrupt`` keeps what it did, ``rollback`` deletes it and its checkpoints."""
    check_cancel(who, action)
    run = await get(rt, who, thread_id, run_id)
    if not RunStatus(run["status"]).terminal:
        try:
            run = await runs_svc.cancel_run(rt, who, run_id)
        except Conflict:
            run = await runs_svc.get_run(rt, who, run_id)
    if action == "rollback":
        run = await runs_svc.wait_for_run(rt, who, run_id, 30.0)
        if run["thread_id"] is not None:
            await rt.graphs.delete_checkpoints(run["tenant_id"], run["thread_id"], run_id)
        await run_deletion.delete_run(rt, who, run_id, None)
        return run
    if wait:
        run = await runs_svc.wait_for_run(rt, who, run_id, WAIT_FOREVER)
    return run


def check_cancel(who: Principal, action: str) -> None:
    """Refuse a cancel the key may not make (``rollback`` also deletes: DELETE)."""
    who.require(Permission.CANCEL_RUNS)
    if action == "rollback":
        who.require(Permission.DELETE)


async def delete(rt: Runtime, who: Principal, thread_id: str, run_id: str) -> None:
    """Delete an ended run."""
    who.require(Permission.DELETE)
    await get(rt, who, thread_id, run_id)
    await run_deletion.delete_run(rt, who, run_id, None)


def values_of(run: RunRecord) -> JSON:
    """What ``/runs/wait`` and ``join`` answer: the final state, or the error."""
    status = run["status"]
    if status == RunStatus.FAILED:
        return {"__error__": _error_of(run)}
    if status in (RunStatus.PAUSED, RunStatus.AUTH_REQUIRED):
        return (run["waiting_on"] or {}).get("values") or {}
    result = run["result"]
    content = result.get("content") if result is not None else None
    return content if content is not None else {}


def _error_of(run: RunRecord) -> JSONObject:
    """A failed run's error as the protocol has it."""
    error = run["error"]
    if error is None:
        return {"error": "error", "message": ""}
    return {"error": error.get("code", "error"), "message": error.get("message", "")}


class StreamPart(NamedTuple):
    """One part of a graph run's stream: the protocol's event name, its data, its number."""

    event: str
    data: object
    number: int | None = None


async def stream(
    rt: Runtime, who: Principal, thread_id: str | None, body: RunCreateBody
) -> tuple[RunRecord, AsyncGenerator[StreamPart, None]]:
    """Start a run and stream its parts."""
    run_id = new_id("run")
    listener = rt.graphs.streams.listen(run_id)
    try:
        run = await create(rt, who, thread_id, body, run_id=run_id, listener=rt.engine.executor_id)
    except BaseException:
        rt.graphs.streams.leave(run_id, listener)
        raise
    cancel = body.on_disconnect == "cancel"
    return run, _parts(rt, who, run, listener, 0, body.modes(), cancel)


async def join_stream(
    rt: Runtime, who: Principal, thread_id: str, run_id: str, cancel_on_disconnect: bool
) -> AsyncGenerator[StreamPart, None]:
    """Stream what a run produces from now on until it ends.

    A run executing in another process relays its parts from the moment its worker
    hears of the join (a NOTIFY away on Postgres; within a second otherwise).
    """
    if cancel_on_disconnect:
        who.require(Permission.CANCEL_RUNS)
    run = await get(rt, who, thread_id, run_id)
    listener = rt.graphs.streams.listen(run_id)
    try:
        since = 0
        if run["status"] not in _ENDED and not rt.worker.runs_here(run_id):
            since = await rt.graphs.join_elsewhere(run_id)
    except BaseException:
        rt.graphs.streams.leave(run_id, listener)
        raise
    stored = (run["graph"] or {}).get("stream_mode")
    modes = [str(m) for m in stored] if isinstance(stored, list) and stored else ["values"]
    return _parts(rt, who, run, listener, since, modes, cancel_on_disconnect)


async def _parts(
    rt: Runtime,
    who: Principal,
    run: RunRecord,
    listener: RunStream,
    since: int,
    modes: list[str],
    cancel_on_disconnect: bool,
) -> AsyncGenerator[StreamPart, None]:
    run_id = run["id"]

    def here() -> bool:
        return rt.worker.runs_here(run_id)

    async def ended() -> bool:
        row = await runs_svc.get_run(rt, who, run_id)
        return row["status"] in _ENDED

    finished = False
    try:
        yield StreamPart("metadata", {"run_id": run_id, "attempt": 1})
        seen = 0
        if not await ended():
            parts = rt.graphs.follow(run_id, listener, since, here, ended)
            async with aclosing(parts):
                async for number, event, data in parts:
                    seen += 1
                    yield StreamPart(event, data, number)
        else:
            # It ended before we looked (a fast run here): what it streamed is in already.
            for number, event, data in list(listener.parts):
                seen += 1
                yield StreamPart(event, data, number)
        final = await runs_svc.get_run(rt, who, run_id)
        finished = final["status"] in _ENDED
        if final["status"] == RunStatus.FAILED:
            yield StreamPart("error", _error_of(final))
        elif seen == 0 and "values" in modes and final["status"] == RunStatus.SUCCEEDED:
            # No part reached us (a relay that failed): its final state is all we can give.
            yield StreamPart("values", values_of(final))
    finally:
        rt.graphs.streams.leave(run_id, listener)
        if cancel_on_disconnect and not finished:
            task = asyncio.get_running_loop().create_task(_cancel_quietly(rt, who, run_id))
            rt.background_tasks.add(task)
            task.add_done_callback(rt.background_tasks.discard)


async def _cancel_quietly(rt: Runtime, who: Principal, run_id: str) -> None:
    try:
        await runs_svc.cancel_run(rt, who, run_id)
    except Conflict:
        pass


_STATUS = {
    "queued": "pending",
    "running": "running",
    "paused": "interrupted",
    "auth_required": "interrupted",
    "canceled": "interrupted",
    "succeeded": "success",
    "failed": "error",
}


def status_of(run: RunRecord) -> str:
    """The protocol's status of a run."""
    status, error, result = str(run["status"]), run["error"], run["result"]
    if status == "failed" and error is not None and error.get("code") == "timeout":
        return "timeout"
    if status == "succeeded" and result is not None and result.get("continued_by"):
        return "interrupted"  # it paused at an interrupt; a later run carried on
    return _STATUS.get(status, status)


def run_json(run: RunRecord, who: Principal) -> ProtocolRun:
    """A run as the protocol shows it; its hidden ``context`` to admin keys only."""
    opts = run["graph"] or {}
    return {
        "run_id": run["id"],
        "thread_id": run["thread_id"] or run["id"],
        "assistant_id": run["assistant_id"],
        "created_at": ts(run["created_at"]),
        "updated_at": ts(run["updated_at"]),
        "status": status_of(run),
        "metadata": run["metadata"] or {},
        "multitask_strategy": opts.get("multitask_strategy", "enqueue"),
        "kwargs": {
            "input": run["input"],
            "command": opts.get("command"),
            "config": opts.get("config"),
            "context": run["context"] if who.can(Permission.SEE_CONTEXT) else None,
            "stream_mode": opts.get("stream_mode"),
            "interrupt_before": opts.get("interrupt_before"),
            "interrupt_after": opts.get("interrupt_after"),
            "webhook": (run["notify"] or {}).get("webhook"),
            "temporary": run["thread_id"] is None,
        },
        "cancel_reason": "interrupt" if run["status"] == RunStatus.CANCELED else None,
    }
