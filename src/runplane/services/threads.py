"""Threads: a graph's conversation state across runs, kept in checkpoints."""

import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Protocol, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointMetadata
from langgraph.errors import InvalidUpdateError
from langgraph.types import StateSnapshot
from sqlalchemy.exc import IntegrityError

from runplane.domain.errors import Conflict, Invalid, NotFound
from runplane.domain.json import JSON, PLAIN_KEY, JSONObject, not_plain
from runplane.domain.lifecycle import TERMINAL, RunStatus
from runplane.domain.models import Principal, ThreadRecord, ThreadView, utcnow
from runplane.domain.roles import Permission
from runplane.graphs.wire import empty_state, jsonable, state_json
from runplane.schemas.agent_protocol import (
    HistoryQuery,
    StateUpdate,
    ThreadCreate,
    ThreadSearch,
    ts,
)
from runplane.services import runs as runs_svc
from runplane.services.runtime import Runtime
from runplane.store import graphs as store

# Deleting a thread first stops its runs; how long it waits for a running one to stop.
STOP_WAIT_SECONDS = 30.0
UNFINISHED = [s for s in RunStatus if s not in TERMINAL]


class ThreadGraph(Protocol):
    """What is asked of a thread's compiled graph: its state, a change to it, its history."""

    async def aget_state(self, config: RunnableConfig, *, subgraphs: bool = False) -> StateSnapshot:
        """The state at the config's checkpoint (the latest without one)."""

    async def aupdate_state(
        self, config: RunnableConfig, values: object, as_node: str | None = None
    ) -> RunnableConfig:
        """Write values as if ``as_node`` had returned them; the new checkpoint's config."""

    def aget_state_history(
        self,
        config: RunnableConfig,
        *,
        filter: JSONObject | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[StateSnapshot]:
        """The states before the config's checkpoint, newest first."""


async def create(rt: Runtime, who: Principal, body: ThreadCreate) -> ThreadView:
    """Create a thread (``if_exists``: raise a conflict, or return the existing one).

    Thread ids are the tenant's own: another tenant's thread of the same id is neither
    seen nor in the way.
    """
    who.require(Permission.CREATE_RUNS)
    thread_id = body.thread_id or str(uuid.uuid4())
    async with rt.db.read() as conn:
        existing = await store.get_thread(conn, who.tenant_id, thread_id)
    if existing is not None:
        return await _existing(rt, who, existing, body)
    now = utcnow()
    metadata = dict(body.metadata)
    if body.graph_id:
        metadata.setdefault("graph_id", body.graph_id)
    row: ThreadRecord = {
        "id": thread_id,
        "tenant_id": who.tenant_id,
        "status": "idle",
        "metadata": metadata,
        "values": None,
        "interrupts": {},
        "created_at": now,
        "updated_at": now,
    }
    try:
        async with rt.db.write() as conn:
            await store.insert_thread(conn, row)
    except IntegrityError:  # created meanwhile by a concurrent request of the tenant
        async with rt.db.read() as conn:
            again = await store.get_thread(conn, who.tenant_id, thread_id)
        if again is None:
            raise
        return await _existing(rt, who, again, body)
    if body.supersteps:
        for superstep in body.supersteps:
            for update in superstep.get("updates", []):
                await update_state(
                    rt,
                    who,
                    thread_id,
                    StateUpdate(values=update.get("values"), as_node=update.get("as_node")),
                )
        async with rt.db.read() as conn:
            row = await store.get_thread(conn, who.tenant_id, thread_id) or row
    return {**row, "busy": False}


async def _existing(
    rt: Runtime, who: Principal, existing: ThreadRecord, body: ThreadCreate
) -> ThreadView:
    if body.if_exists == "do_nothing":
        return await _with_status(rt, existing)
    thread_id = existing["id"]
    raise Conflict(f"thread {thread_id} exists", [{"name": "thread_id", "value": thread_id}])


async def get(rt: Runtime, who: Principal, thread_id: str) -> ThreadView:
    """One thread of the tenant, with its live status, or NotFound."""
    async with rt.db.read() as conn:
        row = await store.get_thread(conn, who.tenant_id, thread_id)
    if row is None:
        raise missing(thread_id)
    return await _with_status(rt, row)


def missing(thread_id: str) -> NotFound:
    """The error for a thread the tenant does not have."""
    return NotFound(f"no thread {thread_id!r}", [{"name": "thread_id", "value": thread_id}])


async def _with_status(rt: Runtime, row: ThreadRecord) -> ThreadView:
    async with rt.db.read() as conn:
        busy = await store.busy_threads(conn, row["tenant_id"], [row["id"]])
    return {**row, "busy": row["id"] in busy}


async def update(rt: Runtime, who: Principal, thread_id: str, metadata: JSONObject) -> ThreadView:
    """Merge metadata into a thread's."""
    who.require(Permission.CREATE_RUNS)
    row = await get(rt, who, thread_id)
    merged = {**row["metadata"], **metadata}
    now = utcnow()
    async with rt.db.write() as conn:
        await store.update_thread(conn, who.tenant_id, thread_id, metadata=merged, updated_at=now)
    return {**row, "metadata": merged, "updated_at": now}


async def delete(rt: Runtime, who: Principal, thread_id: str) -> None:
    """Cancel the thread's unfinished runs, then delete it and its checkpoints.

    Its runs stay in the run history. A run that has not confirmed its stop within
    STOP_WAIT_SECONDS is a 409 (its cancel stands; delete again once it has ended).
    """
    who.require(Permission.DELETE)
    await get(rt, who, thread_id)
    await _stop_runs(rt, who, thread_id)
    async with rt.db.write() as conn:
        await store.delete_thread(conn, who.tenant_id, thread_id)
    await rt.graphs.delete_checkpoints(who.tenant_id, thread_id)


async def _stop_runs(rt: Runtime, who: Principal, thread_id: str) -> None:
    """Cancel every unfinished run of the thread and wait until each has ended.

    An ended run writes neither checkpoints nor the thread's row again, so nothing of it
    reaches a thread made later under the same id.
    """
    async with rt.db.read() as conn:
        unfinished = await store.thread_runs(conn, who.tenant_id, thread_id, statuses=UNFINISHED)
    for run in unfinished:
        try:
            await runs_svc.cancel_run(rt, who, run["id"])
        except (Conflict, NotFound):
            pass  # it ended (or was deleted) meanwhile
    for run in unfinished:
        try:
            ended = await runs_svc.wait_for_run(rt, who, run["id"], STOP_WAIT_SECONDS)
        except NotFound:
            continue
        if not RunStatus(ended["status"]).terminal:
            raise Conflict(
                f"thread {thread_id} has run {run['id']} still stopping: delete it again "
                "once the run has ended",
                [{"name": "run_id", "value": run["id"]}],
            )


async def search(rt: Runtime, who: Principal, body: ThreadSearch) -> tuple[list[ThreadView], bool]:
    """One page of the threads matching metadata, values, status and ids; and if more follow."""
    sort_by = body.sort_by if body.sort_by in store.THREAD_SORTS else "created_at"
    async with rt.db.read() as conn:
        rows = await store.search_threads(
            conn,
            who.tenant_id,
            _filter(body),
            sort_by=sort_by,
            descending=(body.sort_order or "desc") == "desc",
            limit=body.limit + 1,  # the row past the page tells whether another page follows
            offset=body.offset,
        )
    return rows[: body.limit], len(rows) > body.limit


async def count(rt: Runtime, who: Principal, body: ThreadSearch) -> int:
    """How many threads match metadata, values, status and ids."""
    async with rt.db.read() as conn:
        return await store.count_threads(conn, who.tenant_id, _filter(body))


def _filter(body: ThreadSearch) -> store.ThreadFilter:
    return store.ThreadFilter(
        ids=body.ids, status=body.status, metadata=body.metadata, values=body.values
    )


async def copy(rt: Runtime, who: Principal, thread_id: str) -> ThreadView:
    """A new thread with this one's metadata, values and checkpoint history."""
    who.require(Permission.CREATE_RUNS)
    row = await get(rt, who, thread_id)
    new_id = str(uuid.uuid4())
    now = utcnow()
    new_row: ThreadRecord = {
        "tenant_id": row["tenant_id"],
        "status": "idle" if row["status"] == "busy" else row["status"],
        "metadata": row["metadata"],
        "values": row["values"],
        "interrupts": row["interrupts"],
        "id": new_id,
        "created_at": now,
        "updated_at": now,
    }
    async with rt.db.write() as conn:
        await store.insert_thread(conn, new_row)
    saver = rt.graphs.saver_for(who.tenant_id)
    if saver is not None:
        history = [t async for t in saver.alist({"configurable": {"thread_id": thread_id}})]
        for t in reversed(history):
            conf = t.config["configurable"]
            target: RunnableConfig = {
                "configurable": {
                    "thread_id": new_id,
                    "checkpoint_ns": conf.get("checkpoint_ns", ""),
                }
            }
            if t.parent_config:
                target["configurable"]["checkpoint_id"] = t.parent_config["configurable"][
                    "checkpoint_id"
                ]
            metadata = cast(CheckpointMetadata, {**t.metadata, "thread_id": new_id})
            stored = await saver.aput(
                target, t.checkpoint, metadata, t.checkpoint["channel_versions"]
            )
            by_task: dict[str, list[tuple[str, object]]] = {}
            for task_id, channel, value in t.pending_writes or []:
                by_task.setdefault(task_id, []).append((channel, value))
            for task_id, writes in by_task.items():
                await saver.aput_writes(stored, writes, task_id)
    return {**new_row, "busy": False}


def status_of(row: ThreadView) -> str:
    """idle, busy (a run queued or running), interrupted or error."""
    return "busy" if row["busy"] else row["status"]


def thread_json(row: ThreadView) -> JSONObject:
    """A thread as the protocol shows it."""
    return {
        "thread_id": row["id"],
        "created_at": ts(row["created_at"]),
        "updated_at": ts(row["updated_at"]),
        "metadata": row["metadata"],
        "status": status_of(row),
        "values": row["values"] if row["values"] is not None else {},
        "interrupts": row["interrupts"] or {},
    }


async def _graph(rt: Runtime, row: ThreadRecord) -> ThreadGraph | None:
    graph_id = (row["metadata"] or {}).get("graph_id")
    if graph_id is None:
        # A thread notes its graph when its first run ends; until then, ask its runs.
        async with rt.db.read() as conn:
            latest = await store.thread_runs(conn, row["tenant_id"], row["id"], limit=1)
        graph_id = latest[0]["agent_name"] if latest else None
    if not isinstance(graph_id, str) or graph_id not in rt.project.graphs:
        return None
    graph: ThreadGraph = await rt.graphs.graph_for(graph_id, {}, False, row["tenant_id"])
    return graph


def _config(thread_id: str, checkpoint: Mapping[str, object] | None = None) -> RunnableConfig:
    conf: dict[str, object] = {"thread_id": thread_id, "checkpoint_ns": ""}
    for key, value in (checkpoint or {}).items():
        if value is not None and key != "thread_id":
            conf[key] = value
    return {"configurable": conf}


async def get_state(
    rt: Runtime,
    who: Principal,
    thread_id: str,
    checkpoint: Mapping[str, JSON] | None = None,
    subgraphs: bool = False,
) -> JSONObject:
    """The thread's state now, or at a checkpoint."""
    row = await get(rt, who, thread_id)
    graph = await _graph(rt, row)
    if graph is None:
        return empty_state(thread_id)
    snapshot = await graph.aget_state(_config(thread_id, checkpoint), subgraphs=subgraphs)
    if checkpoint and checkpoint.get("checkpoint_id") and not snapshot.config:
        raise NotFound(
            f"thread {thread_id} has no checkpoint {checkpoint['checkpoint_id']}",
            [{"name": "checkpoint_id", "value": checkpoint["checkpoint_id"]}],
        )
    state = state_json(snapshot)
    if state["checkpoint"] is None:
        return empty_state(thread_id)
    return state


async def update_state(
    rt: Runtime, who: Principal, thread_id: str, body: StateUpdate
) -> JSONObject:
    """Write values into the thread's state as if ``as_node`` had returned them."""
    who.require(Permission.CREATE_RUNS)
    row = await get(rt, who, thread_id)
    if row["busy"]:
        raise Conflict(
            f"thread {thread_id} has a run in progress", [{"name": "thread_id", "value": thread_id}]
        )
    graph = await _graph(rt, row)
    if graph is None:
        raise Conflict(
            f"thread {thread_id} has no graph yet: run it once first",
            [{"name": "thread_id", "value": thread_id}],
        )
    checkpoint = dict(body.checkpoint or {})
    if body.checkpoint_id:
        checkpoint["checkpoint_id"] = body.checkpoint_id
    try:
        config = await graph.aupdate_state(
            _config(thread_id, checkpoint), body.values, as_node=body.as_node
        )
    except (InvalidUpdateError, ValueError, KeyError) as exc:
        raise Invalid.field("values", f"the state update was refused: {exc}", body.as_node) from exc
    snapshot = await graph.aget_state(_config(thread_id))
    interrupts = {
        t.id: [{"value": jsonable(i.value), "id": i.id} for i in t.interrupts]
        for t in snapshot.tasks
        if t.interrupts
    }
    async with rt.db.write() as conn:
        await store.update_thread(
            conn,
            who.tenant_id,
            thread_id,
            values=jsonable(snapshot.values),
            interrupts=interrupts,
            status="interrupted" if interrupts else "idle",
            updated_at=utcnow(),
        )
    return {"checkpoint": config["configurable"]}


async def history(
    rt: Runtime, who: Principal, thread_id: str, body: HistoryQuery
) -> list[JSONObject]:
    """The thread's past states, newest first."""
    for key in not_plain(body.metadata):
        # The checkpointer builds its filter's SQL from these keys (CVE-2025-67644 in
        # langgraph-checkpoint-sqlite before 3.0.1): only plain names go through.
        raise Invalid.field(
            "metadata", f"metadata filter key {key!r} must match {PLAIN_KEY.pattern}", key
        )
    row = await get(rt, who, thread_id)
    graph = await _graph(rt, row)
    if graph is None:
        return []
    before = body.before
    if isinstance(before, str):
        before = {"checkpoint_id": before}
    states = []
    async for snapshot in graph.aget_state_history(
        _config(thread_id, body.checkpoint),
        limit=body.limit,
        before=_config(thread_id, before) if before else None,
        filter=body.metadata,
    ):
        states.append(state_json(snapshot))
    return states
