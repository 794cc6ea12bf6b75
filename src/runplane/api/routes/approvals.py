"""``/v1/approvals`` and the signed approval links (``/v1/runs/approval``).

A link's token travels in request bodies only, never in a query string: query strings
end up in access logs, proxies and browser histories. The link people open is a console
page that keeps the token in the URL's fragment (never sent to a server) and posts it.
"""

from typing import Annotated

from fastapi import APIRouter, Query

from runplane.api.convert import approval_public
from runplane.api.deps import OptionalPrincipalDep, PrincipalDep, RuntimeDep
from runplane.schemas import (
    ApprovalDecision,
    ApprovalLink,
    ApprovalPublic,
    LinkDecision,
    LinkToken,
    Page,
)
from runplane.services import approvals as svc

router = APIRouter(prefix="/v1", tags=["approvals"])


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
    links = await svc.links_for(rt, who, rows)
    items = [approval_public(r, links.get(r["id"])) for r in rows]
    return Page[ApprovalPublic](items=items, continuation_token=token)


@router.get("/approvals/{approval_id}", response_model=ApprovalPublic)
async def get_approval(approval_id: str, rt: RuntimeDep, who: PrincipalDep) -> ApprovalPublic:
    """One approval (with its link, for keys that may decide it)."""
    row = await svc.get_approval(rt, who, approval_id)
    links = await svc.links_for(rt, who, [row])
    return approval_public(row, links.get(row["id"]))


@router.post("/approvals/{approval_id}", response_model=ApprovalPublic)
async def decide(
    approval_id: str, body: ApprovalDecision, rt: RuntimeDep, who: PrincipalDep
) -> ApprovalPublic:
    """Approve or reject; the run resumes at once (a rejected plan cancels it)."""
    return approval_public(await svc.decide(rt, who, approval_id, body))


@router.post("/approvals/{approval_id}/link", response_model=ApprovalLink)
async def mint_link(approval_id: str, rt: RuntimeDep, who: PrincipalDep) -> ApprovalLink:
    """Give a pending approval a new link; the previous one stops working (410)."""
    row, link, token, expires_at = await svc.mint_link(rt, who, approval_id)
    return ApprovalLink(approval_id=row["id"], link=link, token=token, expires_at=expires_at)


@router.post("/approvals/{approval_id}/link/revoke", response_model=ApprovalPublic)
async def revoke_link(approval_id: str, rt: RuntimeDep, who: PrincipalDep) -> ApprovalPublic:
    """Revoke a pending approval's link (using it is then a 410); the approval stays pending."""
    return approval_public(await svc.revoke_link(rt, who, approval_id))


@router.post("/runs/approval/view", response_model=ApprovalPublic)
async def view_by_link(
    body: LinkToken, rt: RuntimeDep, who: OptionalPrincipalDep
) -> ApprovalPublic:
    """The approval a signed link names; looking does not use the link up."""
    return approval_public(await svc.view_by_token(rt, who, body.token))


@router.post("/runs/approval", response_model=ApprovalPublic)
async def decide_by_link(
    body: LinkDecision, rt: RuntimeDep, who: OptionalPrincipalDep
) -> ApprovalPublic:
    """Decide by a single-use, expiring, signed link (its token in the body)."""
    decision = ApprovalDecision.model_validate(body.model_dump(exclude={"token"}))
    return approval_public(await svc.decide_by_token(rt, who, body.token, decision))
