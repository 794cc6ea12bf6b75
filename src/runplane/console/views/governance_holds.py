"""Audit & Governance > Legal holds: the active holds, a form to add one (a run, an agent,
or a query's runs) with its reason, and release."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from runplane.console.session import UserDep, check_csrf, redirect_with_notice
from runplane.console.views.common import render
from runplane.domain.errors import Conflict, Forbidden, Gone, Invalid, NotFound
from runplane.schemas.governance import HoldCreate
from runplane.services import legal_holds as svc

router = APIRouter()
PAGE = "/console/governance/holds"


async def _page(request: Request, user: Any, **extra: Any) -> Response:
    holds, _ = await svc.list_holds(request.app.state.rt, user.who, False, 100, None)
    return render(
        request,
        "governance_holds.html",
        user,
        tab="holds",
        holds=holds,
        status=422 if extra.get("error") else 200,
        **extra,
    )


@router.get("/governance/holds")
async def holds_page(request: Request, user: UserDep) -> Response:
    """The active legal holds and a form to add one."""
    return await _page(request, user)


def _hold_body(
    scope: str, target: str, created_after: str, created_before: str, status: str, reason: str
) -> HoldCreate:
    fields: dict[str, Any] = {"reason": reason}
    if scope == "run":
        fields["run_id"] = target.strip()
    elif scope == "agent":
        fields["agent_id"] = target.strip()
    else:
        query = {
            "agent_id": target.strip() or None,
            "created_after": created_after or None,
            "created_before": created_before or None,
            "status": status or None,
        }
        fields["query"] = {k: v for k, v in query.items() if v is not None}
    try:
        return HoldCreate.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        raise Invalid.field(name, f"{name}: {first['msg']}") from None


@router.post("/governance/holds")
async def add_hold(
    request: Request,
    user: UserDep,
    scope: Annotated[str, Form(pattern="^(run|agent|query)$")],
    reason: Annotated[str, Form(max_length=2000)] = "",
    target: Annotated[str, Form(max_length=200)] = "",
    created_after: Annotated[str, Form(max_length=40)] = "",
    created_before: Annotated[str, Form(max_length=40)] = "",
    status: Annotated[str, Form(max_length=20)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Make a hold; a refusal (a run not found, a query matching nothing) is shown."""
    check_csrf(user, csrf)
    form = {"scope": scope, "target": target, "reason": reason}
    try:
        body = _hold_body(scope, target, created_after, created_before, status, reason)
        made = await svc.create_hold(request.app.state.rt, user.who, body)
    except (Invalid, NotFound, Gone, Conflict, Forbidden) as exc:
        return await _page(request, user, error=exc.message, form=form)
    notice = f"Hold {made['id']} made: it keeps {made['matched_runs']} run(s) now."
    return redirect_with_notice(request, PAGE, notice)


@router.post("/governance/holds/{hold_id}/release")
async def release_hold(
    request: Request, hold_id: str, user: UserDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    """Release a hold."""
    check_csrf(user, csrf)
    try:
        await svc.release_hold(request.app.state.rt, user.who, hold_id)
    except (NotFound, Conflict) as exc:
        return redirect_with_notice(request, PAGE, f"Not released: {exc.message}")
    return redirect_with_notice(request, PAGE, f"Hold {hold_id} released.")
