"""``/v1/runs``: create, read, list, stream, cancel, rerun, duplicate, archive, delete."""

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse

from runplane.api.convert import event_public, run_public, step_public, verify_public
from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.api.sse import event_messages, limited_sse_response
from runplane.domain.models import EventRecord, Principal, RunRecord
from runplane.schemas import (
    EventPublic,
    FilePublic,
    Page,
    RunCreate,
    RunDuplicate,
    RunPublic,
    RunRepair,
    RunRerun,
    StepPublic,
    VerifyResult,
)
from runplane.schemas.governance import DeletionRequestPublic
from runplane.services import files as files_svc
from runplane.services import liveness as liveness_svc
from runplane.services import run_deletion as deletion
from runplane.services import runs as svc
from runplane.services.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["runs"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


async def live_run(rt: Runtime, who: Principal, row: RunRecord) -> RunPublic:
    """A run as every route returns it: with its liveness (read only if it is running)."""
    return run_public((await liveness_svc.with_liveness(rt, who, [row]))[0], who)


@router.post("/runs", status_code=201, response_model=RunPublic)
async def create_run(
    body: RunCreate, rt: RuntimeDep, who: PrincipalDep, idempotency_key: IdempotencyKey = None
) -> RunPublic:
    """Start a run of an agent; ``wait`` holds the answer until it ends."""
    row = await svc.create_run(rt, who, body, idempotency_key=idempotency_key)
    return await live_run(rt, who, row)


@router.post(
    "/agents/{agent_id}/runs",
    status_code=201,
    response_model=RunPublic,
    tags=["agents"],
)
async def create_agent_run(
    agent_id: str,
    body: RunCreate,
    rt: RuntimeDep,
    who: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> RunPublic:
    """Start a run of the agent named in the path."""
    body = body.model_copy(update={"agent_id": agent_id})
    row = await svc.create_run(rt, who, body, idempotency_key=idempotency_key)
    return await live_run(rt, who, row)


@router.get("/runs", response_model=Page[RunPublic])
async def list_runs(
    rt: RuntimeDep,
    who: PrincipalDep,
    agent_id: str | None = None,
    status: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    archived: bool = False,
    trigger: str | None = None,
    parent_run_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    continuation_token: Annotated[str | None, Query(max_length=500)] = None,
    trigger_id: Annotated[str | None, Query(max_length=40)] = None,
    liveness: Annotated[str | None, Query(max_length=20)] = None,
) -> Page[RunPublic]:
    """List runs, newest first; filter by agent, status, liveness, name, archive, trigger, parent."""
    rows, token = await svc.list_runs(
        rt,
        who,
        agent_id=agent_id,
        status=status,
        q=q,
        archived=archived,
        trigger=trigger,
        parent_run_id=parent_run_id,
        limit=limit,
        continuation_token=continuation_token,
        trigger_id=trigger_id,
        liveness=liveness,
    )
    live = await liveness_svc.with_liveness(rt, who, rows)
    return Page[RunPublic](items=[run_public(r, who) for r in live], continuation_token=token)


@router.get("/runs/{run_id}", response_model=RunPublic)
async def get_run(
    run_id: str,
    rt: RuntimeDep,
    who: PrincipalDep,
    wait: Annotated[float | None, Query(ge=0, le=60)] = None,
) -> RunPublic:
    """One run; ``wait`` holds the answer until it ends (at most 60 s)."""
    row = (
        await svc.wait_for_run(rt, who, run_id, wait)
        if wait
        else await svc.get_run(rt, who, run_id)
    )
    return await live_run(rt, who, row)


@router.get("/runs/{run_id}/steps", response_model=Page[StepPublic])
async def list_steps(run_id: str, rt: RuntimeDep, who: PrincipalDep) -> Page[StepPublic]:
    """The run's steps, their outputs and the files each saved."""
    rows = await files_svc.steps_with_files(rt, who, run_id)
    return Page[StepPublic](items=[step_public(r, files) for r, files in rows])


@router.get("/runs/{run_id}/files", response_model=Page[FilePublic])
async def list_run_files(run_id: str, rt: RuntimeDep, who: PrincipalDep) -> Page[FilePublic]:
    """The files the run's steps saved, by step; download each at /v1/files/{id}/content."""
    rows = await files_svc.of_run(rt, who, run_id)
    return Page[FilePublic](items=[FilePublic.model_validate(r) for r in rows])


@router.get("/runs/{run_id}/events", response_model=Page[EventPublic])
async def list_events(
    run_id: str,
    rt: RuntimeDep,
    who: PrincipalDep,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Page[EventPublic]:
    """The run's event log after ``after``; the token is the next ``after``."""
    rows, token = await svc.list_events(rt, who, run_id, after, limit)
    return Page[EventPublic](items=[event_public(r) for r in rows], continuation_token=token)


@router.get("/runs/{run_id}/stream", response_class=StreamingResponse)
async def stream_events(
    run_id: str,
    rt: RuntimeDep,
    who: PrincipalDep,
    after: Annotated[int | None, Query(ge=0)] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """The event log as server-sent events: replay, then live, closed after the end.

    A stream lasts at most the server's ``sse_max_seconds``; resume with ``Last-Event-ID``.
    A key holds at most ``sse_max_per_key`` streams at once (429 with ``Retry-After``).
    """
    start = svc.parse_resume_point(after, last_event_id)
    await svc.get_run(rt, who, run_id)
    return limited_sse_response(
        rt, who, event_messages(svc.follow_events(rt, who, run_id, start), _native)
    )


@router.post("/runs/{run_id}/cancel", status_code=202, response_model=RunPublic)
async def cancel_run(run_id: str, rt: RuntimeDep, who: PrincipalDep) -> RunPublic:
    """Ask the run to stop; it becomes ``canceled`` once the worker confirms."""
    return await live_run(rt, who, await svc.cancel_run(rt, who, run_id))


@router.post(
    "/runs/{run_id}/repair",
    response_model=RunPublic,
    responses={403: {}, 404: {}, 409: {}, 422: {}},
)
async def repair_run(run_id: str, body: RunRepair, rt: RuntimeDep, who: PrincipalDep) -> RunPublic:
    """Resume a stalled or lost run on a live worker, or fail it, saying why (admins)."""
    row = await liveness_svc.repair_run(rt, who, run_id, body.action, body.reason)
    return run_public(row, who)


@router.post("/runs/{run_id}/rerun", status_code=201, response_model=RunPublic)
async def rerun(
    run_id: str,
    rt: RuntimeDep,
    who: PrincipalDep,
    body: RunRerun | None = None,
    idempotency_key: IdempotencyKey = None,
) -> RunPublic:
    """A new run with the same configuration; ``from_step`` reuses earlier steps."""
    body = body or RunRerun()
    row = await svc.rerun(
        rt, who, run_id, body.from_step, body.wait, idempotency_key=idempotency_key
    )
    return await live_run(rt, who, row)


@router.post("/runs/{run_id}/duplicate", status_code=201, response_model=RunPublic)
async def duplicate(
    run_id: str,
    rt: RuntimeDep,
    who: PrincipalDep,
    body: RunDuplicate | None = None,
    idempotency_key: IdempotencyKey = None,
) -> RunPublic:
    """A new run from this one's configuration, with overrides."""
    overrides = (body or RunDuplicate()).model_dump(exclude_unset=True)
    row = await svc.duplicate(rt, who, run_id, overrides, idempotency_key=idempotency_key)
    return await live_run(rt, who, row)


@router.post("/runs/{run_id}/archive", response_model=RunPublic)
async def archive(run_id: str, rt: RuntimeDep, who: PrincipalDep) -> RunPublic:
    """Hide the run from default lists."""
    return await live_run(rt, who, await svc.set_archived(rt, who, run_id, True))


@router.post("/runs/{run_id}/unarchive", response_model=RunPublic)
async def unarchive(run_id: str, rt: RuntimeDep, who: PrincipalDep) -> RunPublic:
    """Bring an archived run back to default lists."""
    return await live_run(rt, who, await svc.set_archived(rt, who, run_id, False))


@router.delete(
    "/runs/{run_id}",
    status_code=204,
    response_class=Response,
    responses={
        202: {"model": DeletionRequestPublic, "description": "the policy wants an approval"},
        403: {},
        404: {},
        409: {},
        410: {},
    },
)
async def delete_run(
    run_id: str,
    rt: RuntimeDep,
    who: PrincipalDep,
    reason: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    """Delete an ended run if the policy permits it, keeping a tombstone (or ask for approval)."""
    request = await deletion.delete_run(rt, who, run_id, reason)
    if request is None:
        return Response(status_code=204)
    body = DeletionRequestPublic.model_validate(request).model_dump_json()
    return Response(body, status_code=202, media_type="application/json")


@router.get("/runs/{run_id}/verify", response_model=VerifyResult, responses={404: {}})
async def verify(run_id: str, rt: RuntimeDep, who: PrincipalDep) -> VerifyResult:
    """Check the run's hash-chained event log."""
    return verify_public(await svc.verify(rt, who, run_id))


async def _native(row: EventRecord) -> tuple[str, str]:
    """An event as the native stream sends it: its type, and the event as JSON."""
    return row["type"], event_public(row).model_dump_json()
