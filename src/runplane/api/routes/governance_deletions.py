"""``/v1/governance/deletions`` and ``/tombstones``: deletions awaiting approval, and what
is kept of deleted runs."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.schemas import Page
from runplane.schemas.governance import DeletionDecision, DeletionRequestPublic, TombstonePublic
from runplane.services import run_deletion as svc

router = APIRouter(prefix="/v1/governance", tags=["governance"])
RequestId = Annotated[str, Path(min_length=1, max_length=40)]
Limit = Annotated[int, Query(ge=1, le=100)]
Token = Annotated[str | None, Query(max_length=500)]


@router.get("/deletions", response_model=Page[DeletionRequestPublic], responses={403: {}})
async def list_deletions(
    rt: RuntimeDep,
    who: PrincipalDep,
    status: Literal["pending", "approved", "rejected"] | None = None,
    limit: Limit = 20,
    continuation_token: Token = None,
) -> Page[DeletionRequestPublic]:
    """Deletion requests, newest first; filter by status."""
    rows, token = await svc.list_requests(rt, who, status, limit, continuation_token)
    items = [DeletionRequestPublic.model_validate(r) for r in rows]
    return Page[DeletionRequestPublic](items=items, continuation_token=token)


@router.post(
    "/deletions/{request_id}/{decision}",
    response_model=DeletionRequestPublic,
    responses={403: {}, 404: {}, 409: {}},
)
async def decide_deletion(
    request_id: RequestId,
    decision: Literal["approve", "reject"],
    rt: RuntimeDep,
    who: PrincipalDep,
    body: DeletionDecision | None = None,
) -> DeletionRequestPublic:
    """Approve (the run is deleted) or reject (it stays) a deletion request; another admin
    than its requester decides."""
    comment = body.comment if body else None
    row = await svc.decide(rt, who, request_id, decision == "approve", comment)
    return DeletionRequestPublic.model_validate(row)


@router.get("/tombstones", response_model=Page[TombstonePublic], responses={403: {}})
async def list_tombstones(
    rt: RuntimeDep, who: PrincipalDep, limit: Limit = 20, continuation_token: Token = None
) -> Page[TombstonePublic]:
    """What is kept of deleted runs, most recently deleted first."""
    rows, token = await svc.list_tombstones(rt, who, limit, continuation_token)
    items = [TombstonePublic.model_validate(r) for r in rows]
    return Page[TombstonePublic](items=items, continuation_token=token)
