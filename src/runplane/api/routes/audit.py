"""``/v1/audit-events``: the tenant's administrative changes (admin keys only)."""

from typing import Annotated

from fastapi import APIRouter, Query

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.schemas import AuditEventPublic, Page
from runplane.services import activity as svc

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get("/audit-events", response_model=Page[AuditEventPublic], responses={403: {}})
async def list_audit_events(
    rt: RuntimeDep,
    who: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    continuation_token: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[AuditEventPublic]:
    """Who changed what (keys, roles), newest first."""
    rows, token = await svc.list_events(rt, who, limit, continuation_token)
    items = [AuditEventPublic.model_validate(dict(r)) for r in rows]
    return Page[AuditEventPublic](items=items, continuation_token=token)
