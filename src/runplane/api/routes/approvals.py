"""``/v1/approvals`` and the signed approval links ``/v1/runs/approval?token=…``."""

from typing import Annotated

from fastapi import APIRouter, Query

from runplane.api.convert import approval_public
from runplane.api.deps import OptionalPrincipalDep, PrincipalDep, RuntimeDep
from runplane.schemas import ApprovalDecision, ApprovalPublic, Page
from runplane.services import approvals as svc

router = APIRouter(prefix="/v1", tags=["approvals"])
Token = Annotated[str, Query(min_length=1, max_length=2000)]


@router.get("/approvals", response_model=Page[ApprovalPublic])
async def list_approvals(
    rt: RuntimeDep,
    who: PrincipalDep,
    run_id: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    continuation_token: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[ApprovalPublic]:
    """List approvals, newest first; filter by run and status (``pending`` …)."""
    rows, token = await svc.list_approvals(
        rt, who, run_id=run_id, status=status, limit=limit, continuation_token=continuation_token
    )
    return Page[ApprovalPublic](items=[approval_public(r) for r in rows], continuation_token=token)


@router.get("/approvals/{approval_id}", response_model=ApprovalPublic)
async def get_approval(approval_id: str, rt: RuntimeDep, who: PrincipalDep) -> ApprovalPublic:
    """One approval."""
    return approval_public(await svc.get_approval(rt, who, approval_id))


@router.post("/approvals/{approval_id}", response_model=ApprovalPublic)
async def decide(
    approval_id: str, body: ApprovalDecision, rt: RuntimeDep, who: PrincipalDep
) -> ApprovalPublic:
    """Approve or reject; the run resumes at once (a rejected plan cancels it)."""
    return approval_public(await svc.decide(rt, who, approval_id, body))


@router.get("/runs/approval", response_model=ApprovalPublic)
async def view_by_link(token: Token, rt: RuntimeDep, who: OptionalPrincipalDep) -> ApprovalPublic:
    """The approval a signed link names; looking does not use the link up."""
    return approval_public(await svc.view_by_token(rt, who, token))


@router.post("/runs/approval", response_model=ApprovalPublic)
async def decide_by_link(
    token: Token, body: ApprovalDecision, rt: RuntimeDep, who: OptionalPrincipalDep
) -> ApprovalPublic:
    """Decide by a single-use, expiring, signed link."""
    return approval_public(await svc.decide_by_token(rt, who, token, body))
