"""Audit & Governance > Exports: start an evidence export (a run, or an agent and dates),
follow its progress, download it; the tenant's signing keys; a run's own bundle."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError

from runplane.console.session import User, UserDep, check_csrf, redirect_with_notice
from runplane.console.views.common import render
from runplane.console.views.files import size_text
from runplane.domain.errors import Conflict, Forbidden, Gone, Invalid, NotFound
from runplane.domain.roles import Permission
from runplane.schemas.evidence import ExportCreate
from runplane.services import evidence as svc
from runplane.services import signing_keys as keys_svc

router = APIRouter()
PAGE = "/console/governance/exports"
REFUSALS = (Invalid, NotFound, Conflict, Forbidden, Gone)


async def _page(request: Request, user: User, status: int = 200, **extra: Any) -> Response:
    rt = request.app.state.rt
    admin = user.who.can(Permission.GOVERN)
    exports = (await svc.list_exports(rt, user.who, 50, None))[0] if admin else []
    keys = await keys_svc.list_keys(rt, user.who)
    rows = [
        {
            **e,
            "asked": svc.asked(e),
            "size_text": size_text(e["bytes"]),
            "percent": int(100 * e["runs_done"] / e["runs_total"]) if e["runs_total"] else 100,
        }
        for e in exports
    ]
    return render(
        request,
        "governance_exports.html",
        user,
        status=status,
        section="governance",
        tab="exports",
        admin=admin,
        exports=rows,
        building=any(e["status"] in ("queued", "running") for e in exports),
        keys=keys,
        **extra,
    )


@router.get("/governance/exports")
async def exports_page(request: Request, user: UserDep) -> Response:
    """The tenant's exports with their progress, the form to start one, the signing keys."""
    return await _page(request, user)


def _day(text: str, field: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        return datetime.combine(date.fromisoformat(text.strip()), time(), UTC)
    except ValueError:
        raise Invalid.field(field, f"{field} is a date: YYYY-MM-DD", text) from None


@router.post("/governance/exports")
async def start_export(
    request: Request,
    user: UserDep,
    run_id: Annotated[str, Form(max_length=200)] = "",
    agent: Annotated[str, Form(max_length=200)] = "",
    since: Annotated[str, Form(max_length=40)] = "",
    until: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Start an export of one run, or of an agent's runs between two dates (inclusive)."""
    check_csrf(user, csrf)
    try:
        if run_id.strip():
            body = ExportCreate(run_ids=[run_id.strip()])
        else:
            last = _day(until, "until")
            query = {
                "agent_id": agent.strip() or None,
                "created_after": _day(since, "since"),
                "created_before": last + timedelta(days=1) if last else None,
            }
            body = ExportCreate.model_validate({"query": query})
        export = await svc.create_export(request.app.state.rt, user.who, body)
    except ValidationError as exc:
        return await _page(request, user, 422, error=f"Not started: {exc.errors()[0]['msg']}")
    except REFUSALS as exc:
        return await _page(request, user, 422, error=f"Not started: {exc.message}")
    runs = export["runs_total"]
    return redirect_with_notice(
        request, PAGE, f"Export {export['id']} started: {runs} run{'' if runs == 1 else 's'}."
    )


@router.get("/governance/exports/{export_id}/progress")
async def export_progress(export_id: str, request: Request, user: UserDep) -> Response:
    """An export's progress as JSON, for the page's progress bars."""
    try:
        e = await svc.get_export(request.app.state.rt, user.who, export_id)
    except REFUSALS as exc:
        return JSONResponse({"message": exc.message}, status_code=exc.status)
    keys = ("id", "status", "runs_done", "runs_total", "bytes")
    return JSONResponse({k: e[k] for k in keys})  # type: ignore[literal-required]


def _zip(name: str, body: Any, size: int) -> StreamingResponse:
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Content-Length": str(size)}
    return StreamingResponse(body, media_type="application/zip", headers=headers)


@router.get("/governance/exports/{export_id}/download")
async def download_export(export_id: str, request: Request, user: UserDep) -> Response:
    """A finished export's zip."""
    try:
        out, row = await svc.open_export(request.app.state.rt, user.who, export_id)
    except REFUSALS as exc:
        return redirect_with_notice(request, PAGE, f"Not downloaded: {exc.message}")
    return _zip(f"evidence-{export_id}.zip", svc.chunks(out), row["bytes"])


@router.post("/governance/keys/rotate")
async def rotate_key(
    request: Request, user: UserDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    """Make a new signing key and retire the old one (admins)."""
    check_csrf(user, csrf)
    try:
        key = await keys_svc.rotate(request.app.state.rt, user.who)
    except REFUSALS as exc:
        return redirect_with_notice(request, PAGE, f"Not rotated: {exc.message}")
    return redirect_with_notice(
        request, PAGE, f"Signing key {key['id']} is now active; the previous one is retired."
    )


@router.get("/runs/{run_id}/evidence")
async def run_evidence(run_id: str, request: Request, user: UserDep) -> Response:
    """One ended run's evidence bundle (what ``GET /v1/runs/{id}/evidence`` gives)."""
    try:
        out, size = await svc.run_bundle(request.app.state.rt, user.who, run_id)
    except REFUSALS as exc:
        return redirect_with_notice(request, f"/console/runs/{run_id}", exc.message)
    return _zip(f"evidence-{run_id}.zip", svc.chunks(out), size)
