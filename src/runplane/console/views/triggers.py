"""The triggers page: schedules, webhooks and uploads, their next fire and last run; make one,
enable, disable, pause or resume it."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from runplane.console.session import UserDep, check_csrf, redirect_with_notice
from runplane.console.views.common import render
from runplane.domain.errors import Conflict, Forbidden, Invalid, NotFound
from runplane.schemas import TriggerCreate
from runplane.services import agents as agents_svc
from runplane.services import triggers as svc

router = APIRouter()
ACTIONS: dict[str, tuple[dict[str, bool], str]] = {
    "enable": ({"enabled": True}, "Enabled."),
    "disable": ({"enabled": False}, "Disabled: it starts nothing until enabled."),
    "pause": ({"paused": True}, "Paused."),
    "resume": ({"paused": False}, "Resumed from its next tick."),
}


async def _page(request: Request, user: Any, **extra: Any) -> Response:
    rt = request.app.state.rt
    rows, _ = await svc.list_triggers(
        rt, user.who, kind=None, agent_id=None, enabled=None, limit=100, continuation_token=None
    )
    agents = {a["id"]: a["name"] for a in await agents_svc.list_agents(rt, user.who)}
    items = [{**r, "agent_name": agents.get(r["agent_id"], r["agent_id"])} for r in rows]
    return render(
        request,
        "triggers.html",
        user,
        triggers=items,
        agents=sorted(agents.values()),
        status=422 if extra.get("error") else 200,
        **extra,
    )


@router.get("/triggers")
async def triggers_page(request: Request, user: UserDep) -> Response:
    """The tenant's triggers, oldest first, and a form to make one."""
    return await _page(request, user)


def _mapping(text: str) -> dict[str, str] | None:
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip():
            field, sep, pointer = line.strip().partition("=")
            if not sep:
                raise Invalid.field("mapping", f"one FIELD=/json/pointer a line, not {line!r}")
            found[field.strip()] = pointer.strip()
    return found or None


@router.post("/triggers")
async def make_trigger(
    request: Request,
    user: UserDep,
    kind: Annotated[str, Form(pattern="^(schedule|webhook|upload)$")],
    agent: Annotated[str, Form(min_length=1, max_length=200)],
    schedule: Annotated[str, Form(max_length=200)] = "",
    timezone: Annotated[str, Form(max_length=64)] = "",
    catch_up: Annotated[str, Form(pattern="^(once|skip)$")] = "once",
    input_json: Annotated[str, Form(max_length=200_000)] = "",
    mapping: Annotated[str, Form(max_length=10_000)] = "",
    site: Annotated[str, Form(max_length=200)] = "",
    glob: Annotated[str, Form(max_length=200)] = "",
    media_type: Annotated[str, Form(max_length=100)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Make a trigger; a webhook's secret is shown on the page this once."""
    check_csrf(user, csrf)
    form = {"kind": kind, "agent": agent, "schedule": schedule, "timezone": timezone}
    form |= {"site": site, "glob": glob, "media_type": media_type}
    try:
        fields: dict[str, Any] = {"kind": kind, "agent_id": agent, "name": name or None}
        if input_json.strip():
            try:
                fields["input"] = json.loads(input_json)
            except ValueError:
                raise Invalid.field("input", "the input is not JSON") from None
        if kind == "schedule":
            fields |= {"schedule": schedule or None, "timezone": timezone or None}
            fields["catch_up"] = catch_up
        elif kind == "webhook":
            fields["mapping"] = _mapping(mapping)
        else:
            fields |= {"site_id": site or None, "glob": glob or None}
            fields["media_type"] = media_type or None
        try:
            body = TriggerCreate.model_validate(fields)
        except ValidationError as exc:
            raise Invalid(str(exc.errors()[0]["msg"])) from None
        row, secret = await svc.create(request.app.state.rt, user.who, body)
    except (Invalid, NotFound, Conflict, Forbidden) as exc:
        return await _page(request, user, error=exc.message, form=form)
    return await _page(request, user, made=row, secret=secret)


@router.post("/triggers/{trigger_id}/{action}")
async def change_trigger(
    request: Request,
    trigger_id: str,
    action: str,
    user: UserDep,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Enable, disable, pause or resume a trigger; refusals come back as a notice."""
    check_csrf(user, csrf)
    if action not in ACTIONS:
        return redirect_with_notice(request, "/console/triggers", f"Unknown action {action!r}.")
    change, done = ACTIONS[action]
    try:
        await svc.set_state(request.app.state.rt, user.who, trigger_id, **change)
    except (Invalid, NotFound, Conflict, Forbidden) as exc:
        return redirect_with_notice(request, "/console/triggers", f"Not done: {exc.message}")
    return redirect_with_notice(request, "/console/triggers", done)
