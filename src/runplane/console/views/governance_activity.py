"""Audit & Governance › Activity: who did what, filtered, paged, and downloaded (admins)."""

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from runplane.console.session import User, UserDep
from runplane.console.views.common import render
from runplane.domain.errors import Forbidden, Invalid
from runplane.domain.models import AuditEventRecord
from runplane.domain.roles import Permission
from runplane.services import activity as svc
from runplane.store.audit import ActivityFilter

router = APIRouter()
PAGE_SIZE = 50
Text = Annotated[str, Query(max_length=200)]
FIELDS = ("actor", "resource", "action", "since", "until")


def _links(row: AuditEventRecord) -> str | None:
    """The console page of an activity row's resource, if it has one."""
    target, kind = row["target_id"], row["target_type"]
    if kind == "run" and target:
        return f"/console/runs/{target}"
    if kind == "agent" and target:
        return f"/console/agents/{target}"
    if kind == "approval" and isinstance(row["data"].get("run_id"), str):
        return f"/console/runs/{row['data']['run_id']}"
    return {"file": "/console/files", "site": "/console/files", "trigger": "/console/triggers"}.get(
        kind
    )


def _time(name: str, value: str) -> datetime | None:
    """A time from the form (``datetime-local`` gives no offset: it is read as UTC)."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise Invalid.field(name, f"{name} is not a date and time: {value!r}", value) from None


def _filter(form: dict[str, str]) -> ActivityFilter:
    return svc.checked_filter(
        ActivityFilter(
            actor=form["actor"] or None,
            resource=form["resource"] or None,
            action=form["action"] or None,
            since=_time("since", form["since"]),
            until=_time("until", form["until"]),
        )
    )


def _require_admin(user: User) -> None:
    if not user.who.can(Permission.READ_AUDIT):
        raise Forbidden(
            "The activity log needs an admin key: sign in with one to see who did what."
        )


@router.get("/governance/activity")
async def activity_page(
    request: Request,
    user: UserDep,
    actor: Text = "",
    resource: Text = "",
    action: Text = "",
    since: Text = "",
    until: Text = "",
    page: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """The activity list, newest first, with filters, pages and downloads."""
    _require_admin(user)
    form = {"actor": actor, "resource": resource, "action": action, "since": since, "until": until}
    query = urlencode({k: v for k, v in form.items() if v})
    context: dict[str, Any] = {"form": form, "query": query, "rows": [], "next_token": None}
    try:
        rows, token = await svc.page(
            request.app.state.rt, user.who, _filter(form), PAGE_SIZE, page or None
        )
    except Invalid as exc:
        return render(
            request, "activity.html", user, 422, **context, error=exc.message, first_page=True
        )
    shown = [{**row, "link": _links(row)} for row in rows]
    context.update(rows=shown, next_token=token, first_page=page is None)
    return render(request, "activity.html", user, **context, error=None)


@router.get("/governance/activity.{fmt}")
async def activity_download(
    request: Request,
    user: UserDep,
    fmt: svc.ExportFormat,
    actor: Text = "",
    resource: Text = "",
    action: Text = "",
    since: Text = "",
    until: Text = "",
) -> Response:
    """Every row the filters match, as CSV or JSON Lines, downloaded."""
    _require_admin(user)
    form = {"actor": actor, "resource": resource, "action": action, "since": since, "until": until}
    only = svc.start_export(user.who, _filter(form))
    return StreamingResponse(
        svc.export(request.app.state.rt, user.who, only, fmt),
        media_type=svc.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{svc.export_name(fmt)}"'},
    )
