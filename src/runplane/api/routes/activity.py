"""``/v1/governance/activity``: who did what, filtered, paged, or exported whole (admin keys)."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.schemas import AuditEventPublic, Page
from runplane.services import activity as svc
from runplane.store.audit import ActivityFilter

router = APIRouter(prefix="/v1/governance", tags=["governance"])
ActorType = Literal["api", "console", "link", "trigger", "schedule", "agent", "system"]
EXPORTS = {
    "application/x-ndjson": {"schema": {"type": "string"}, "example": '{"id": "aud_…"}\n'},
    "text/csv": {"schema": {"type": "string"}, "example": "id,at,actor_type,…\r\n"},
}


@router.get(
    "/activity",
    response_model=Page[AuditEventPublic],
    responses={
        200: {
            "description": "A page (format=json), or the whole filtered log as a download "
            "(format=jsonl or csv, newest first)",
            "content": EXPORTS,
        },
        403: {},
        422: {},
    },
)
async def list_activity(
    rt: RuntimeDep,
    who: PrincipalDep,
    actor: Annotated[
        str | None,
        Query(max_length=200, description="a key id, or trigger:…, cron:…, run:…, link:…, system"),
    ] = None,
    actor_type: ActorType | None = None,
    resource: Annotated[
        str | None, Query(max_length=40, description="the target's type: run, agent, file …")
    ] = None,
    resource_id: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[
        str | None, Query(max_length=100, description="exact, or a prefix ending in '.' (run.)")
    ] = None,
    since: Annotated[datetime | None, Query(description="RFC 3339; at or after")] = None,
    until: Annotated[datetime | None, Query(description="RFC 3339; at or before")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    continuation_token: Annotated[str | None, Query(max_length=500)] = None,
    format: Literal["json", "jsonl", "csv"] = "json",
) -> Page[AuditEventPublic] | StreamingResponse:
    """Who did what to which resource, and when: newest first, or exported whole."""
    only = ActivityFilter(actor, actor_type, resource, resource_id, action, since, until)
    if format != "json":
        checked = svc.start_export(who, only)
        return StreamingResponse(
            svc.export(rt, who, checked, format),
            media_type=svc.MEDIA_TYPES[format],
            headers={"Content-Disposition": f'attachment; filename="{svc.export_name(format)}"'},
        )
    rows, token = await svc.page(rt, who, only, limit, continuation_token)
    items = [AuditEventPublic.model_validate(dict(r)) for r in rows]
    return Page[AuditEventPublic](items=items, continuation_token=token)
