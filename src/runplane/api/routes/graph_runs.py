"""``/runs`` and ``/threads/{id}/runs``: graph runs over the Agent Protocol."""

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.api.routes._protocol import json_answer, run_location
from runplane.api.sse import limited_sse_response, sse_message
from runplane.domain.errors import Conflict
from runplane.domain.models import Principal, RunRecord
from runplane.schemas.agent_protocol import RunCreateBody
from runplane.services import graph_runs as svc
from runplane.services import runs as runs_svc
from runplane.services.runtime import Runtime

router = APIRouter(tags=["runs (Agent Protocol)"])


def _created(run: RunRecord, who: Principal) -> Response:
    data = svc.run_json(run, who)
    return json_answer(data, headers=run_location(data["thread_id"], data["run_id"]))


async def _wait(
    rt: Runtime, who: Principal, thread_id: str | None, body: RunCreateBody
) -> Response:
    ended = await svc.create(rt, who, thread_id, body, wait=True)
    headers = run_location(ended["thread_id"] or ended["id"], ended["id"])
    return json_answer(svc.values_of(ended), headers=headers)


async def _stream(
    rt: Runtime, who: Principal, thread_id: str | None, body: RunCreateBody
) -> Response:
    rt.streams.check(who.key_id)  # a key over its stream cap starts no run
    run, parts = await svc.stream(rt, who, thread_id, body)
    return _sse(rt, who, parts, run_location(run["thread_id"] or run["id"], run["id"]))


def _sse(
    rt: Runtime,
    who: Principal,
    parts: AsyncGenerator[svc.StreamPart, None],
    headers: dict[str, str] | None = None,
) -> Response:
    """A run's parts as the protocol's server-sent events (never cached, capped per key)."""
    try:
        return limited_sse_response(
            rt, who, _messages(parts), {"Cache-Control": "no-store", **(headers or {})}
        )
    except BaseException:
        _close_soon(rt, parts)
        raise


def _close_soon(rt: Runtime, parts: AsyncGenerator[svc.StreamPart, None]) -> None:
    """Close parts that will never be sent (their listener is left at once)."""
    task = asyncio.get_running_loop().create_task(parts.aclose())
    rt.background_tasks.add(task)
    task.add_done_callback(rt.background_tasks.discard)


async def _messages(parts: AsyncGenerator[svc.StreamPart, None]) -> AsyncIterator[bytes]:
    # Closing the messages (the client went away) closes the parts: the run's stream
    # is left, and a cancel_on_disconnect run is canceled.
    async with aclosing(parts):
        async for part in parts:
            data = json.dumps(part.data, default=str)
            yield sse_message(part.event, data, part.number, id_first=False)


# -- stateless ---------------------------------------------------------------------------


@router.post("/runs")
async def create_stateless(body: RunCreateBody, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Start a run on a temporary thread, in the background."""
    return _created(await svc.create(rt, who, None, body), who)


@router.post("/runs/wait")
async def wait_stateless(body: RunCreateBody, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Run on a temporary thread and answer with its final state."""
    return await _wait(rt, who, None, body)


@router.post("/runs/stream")
async def stream_stateless(body: RunCreateBody, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Run on a temporary thread, streaming its output."""
    return await _stream(rt, who, None, body)


@router.post("/runs/batch")
async def create_batch(
    body: Annotated[list[RunCreateBody], Body(max_length=1000)], rt: RuntimeDep, who: PrincipalDep
) -> Response:
    """Start several stateless runs: all of them, or none if the tenant's queue is too full."""
    return json_answer([svc.run_json(r, who) for r in await svc.create_batch(rt, who, body)])


@router.post("/runs/cancel", status_code=204)
async def cancel_many(
    rt: RuntimeDep,
    who: PrincipalDep,
    body: Annotated[dict[str, Any] | None, Body()] = None,
    action: Literal["interrupt", "rollback"] = "interrupt",
) -> Response:
    """Cancel runs by ids (with their thread), by thread, or by status."""
    svc.check_cancel(who, action)
    body = body or {}
    targets: list[tuple[str, str]] = []
    if body.get("run_ids"):
        thread = body.get("thread_id")
        for run_id in body["run_ids"]:
            run = await runs_svc.get_run(rt, who, run_id)
            targets.append((thread or run["thread_id"] or run["id"], run_id))
    elif body.get("thread_id"):
        runs = await svc.list_for_thread(rt, who, body["thread_id"], 1000, 0, None)
        targets = [
            (body["thread_id"], r["id"]) for r in runs if r["status"] in ("queued", "running")
        ]
    elif body.get("status"):
        statuses = {"pending": ["queued"], "running": ["running"], "all": ["queued", "running"]}
        wanted = statuses.get(body["status"], [])
        for status in wanted:
            rows, _ = await runs_svc.list_runs(
                rt,
                who,
                agent_id=None,
                status=status,
                q=None,
                archived=None,
                trigger=None,
                parent_run_id=None,
                limit=1000,
                continuation_token=None,
            )
            targets += [(r["thread_id"] or r["id"], r["id"]) for r in rows if r["assistant_id"]]
    for thread_id, run_id in targets:
        try:
            await svc.cancel(rt, who, thread_id, run_id, wait=False, action=action)
        except Conflict:
            pass
    return Response(status_code=204)


# -- on a thread -------------------------------------------------------------------------


@router.post("/threads/{thread_id}/runs")
async def create_run(
    thread_id: str, body: RunCreateBody, rt: RuntimeDep, who: PrincipalDep
) -> Response:
    """Start a run on a thread, in the background."""
    return _created(await svc.create(rt, who, thread_id, body), who)


@router.post("/threads/{thread_id}/runs/wait")
async def wait_run(
    thread_id: str, body: RunCreateBody, rt: RuntimeDep, who: PrincipalDep
) -> Response:
    """Run on a thread and answer with its final state."""
    return await _wait(rt, who, thread_id, body)


@router.post("/threads/{thread_id}/runs/stream")
async def stream_run(
    thread_id: str, body: RunCreateBody, rt: RuntimeDep, who: PrincipalDep
) -> Response:
    """Run on a thread, streaming its output."""
    return await _stream(rt, who, thread_id, body)


@router.get("/threads/{thread_id}/runs")
async def list_runs(
    thread_id: str,
    rt: RuntimeDep,
    who: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
    status: str | None = None,
) -> Response:
    """A thread's runs, newest first."""
    rows = await svc.list_for_thread(rt, who, thread_id, limit, offset, status)
    return json_answer([svc.run_json(r, who) for r in rows])


@router.get("/threads/{thread_id}/runs/{run_id}")
async def get_run(thread_id: str, run_id: str, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """One run."""
    return json_answer(svc.run_json(await svc.get(rt, who, thread_id, run_id), who))


@router.delete("/threads/{thread_id}/runs/{run_id}", status_code=204)
async def delete_run(thread_id: str, run_id: str, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Delete an ended run."""
    await svc.delete(rt, who, thread_id, run_id)
    return Response(status_code=204)


@router.post("/threads/{thread_id}/runs/{run_id}/cancel")
async def cancel_run(
    thread_id: str,
    run_id: str,
    rt: RuntimeDep,
    who: PrincipalDep,
    wait: bool = False,
    action: Literal["interrupt", "rollback"] = "interrupt",
) -> Response:
    """Cancel a run (``rollback`` also deletes it and its checkpoints)."""
    run = await svc.cancel(rt, who, thread_id, run_id, wait=wait, action=action)
    if wait:
        return json_answer(svc.run_json(run, who))
    return Response(status_code=202)


@router.get("/threads/{thread_id}/runs/{run_id}/join")
async def join_run(thread_id: str, run_id: str, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Wait for a run to end; answer with the thread's final state."""
    run = await svc.get(rt, who, thread_id, run_id)
    return json_answer(svc.values_of(await svc.wait(rt, who, run)))


@router.get("/threads/{thread_id}/runs/{run_id}/stream")
async def join_stream(
    thread_id: str,
    run_id: str,
    rt: RuntimeDep,
    who: PrincipalDep,
    cancel_on_disconnect: bool = False,
) -> Response:
    """Stream what a run produces from now until it ends."""
    rt.streams.check(who.key_id)  # refused before the run's stream is joined
    parts = await svc.join_stream(rt, who, thread_id, run_id, cancel_on_disconnect)
    return _sse(rt, who, parts)
