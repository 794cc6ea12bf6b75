"""``/threads``: conversation state across graph runs (Agent Protocol)."""

from fastapi import APIRouter, Response

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.api.routes._protocol import json_answer, page_answer
from runplane.schemas.agent_protocol import (
    HistoryQuery,
    StateAt,
    StateUpdate,
    ThreadCreate,
    ThreadPatch,
    ThreadSearch,
)
from runplane.services import threads as svc

router = APIRouter(tags=["threads"])


@router.post("/threads")
async def create_thread(body: ThreadCreate, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Create a thread."""
    return json_answer(svc.thread_json(await svc.create(rt, who, body)))


@router.post("/threads/search")
async def search_threads(body: ThreadSearch, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Threads by metadata, values, status and ids."""
    page, more = await svc.search(rt, who, body)
    return page_answer(page, more, svc.thread_json, body)


@router.post("/threads/count")
async def count_threads(body: ThreadSearch, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """How many threads match."""
    return json_answer(await svc.count(rt, who, body))


@router.get("/threads/{thread_id}")
async def get_thread(thread_id: str, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """One thread with its status, values and interrupts."""
    return json_answer(svc.thread_json(await svc.get(rt, who, thread_id)))


@router.patch("/threads/{thread_id}")
async def update_thread(
    thread_id: str, body: ThreadPatch, rt: RuntimeDep, who: PrincipalDep
) -> Response:
    """Merge metadata into a thread's."""
    return json_answer(svc.thread_json(await svc.update(rt, who, thread_id, body.metadata)))


@router.delete("/threads/{thread_id}", status_code=204)
async def delete_thread(thread_id: str, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Delete a thread and its checkpoints."""
    await svc.delete(rt, who, thread_id)
    return Response(status_code=204)


@router.post("/threads/{thread_id}/copy")
async def copy_thread(thread_id: str, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """A new thread with this one's history."""
    return json_answer(svc.thread_json(await svc.copy(rt, who, thread_id)))


@router.get("/threads/{thread_id}/state")
async def get_state(
    thread_id: str, rt: RuntimeDep, who: PrincipalDep, subgraphs: bool = False
) -> Response:
    """The thread's current state."""
    return json_answer(await svc.get_state(rt, who, thread_id, subgraphs=subgraphs))


@router.post("/threads/{thread_id}/state")
async def update_state(
    thread_id: str, body: StateUpdate, rt: RuntimeDep, who: PrincipalDep
) -> Response:
    """Write values into the thread's state."""
    return json_answer(await svc.update_state(rt, who, thread_id, body))


@router.post("/threads/{thread_id}/state/checkpoint")
async def get_state_at(
    thread_id: str, body: StateAt, rt: RuntimeDep, who: PrincipalDep
) -> Response:
    """The thread's state at a checkpoint."""
    return json_answer(
        await svc.get_state(rt, who, thread_id, body.checkpoint, subgraphs=body.subgraphs)
    )


@router.get("/threads/{thread_id}/state/{checkpoint_id}")
async def get_state_by_id(
    thread_id: str, checkpoint_id: str, rt: RuntimeDep, who: PrincipalDep, subgraphs: bool = False
) -> Response:
    """The thread's state at a checkpoint id."""
    checkpoint = {"checkpoint_id": checkpoint_id}
    return json_answer(await svc.get_state(rt, who, thread_id, checkpoint, subgraphs=subgraphs))


@router.post("/threads/{thread_id}/history")
async def get_history(
    thread_id: str, body: HistoryQuery, rt: RuntimeDep, who: PrincipalDep
) -> Response:
    """The thread's past states, newest first."""
    return json_answer(await svc.history(rt, who, thread_id, body))
