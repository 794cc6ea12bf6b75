"""The step-agent editor: a new agent, or a new draft revision of one, from a form with a
fieldset per step; save as a draft, or save and publish.

The row buttons (add, remove, move a step; add, remove a variable) post the form back
and it is drawn again rearranged; with JavaScript they act in the page instead.
"""

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from runplane.console.session import User, UserDep, check_csrf, redirect_with_notice
from runplane.console.views.common import render
from runplane.console.views.step_form import (
    OUTPUT_FORMATS,
    VARIABLE_TYPES,
    AgentForm,
    StepForm,
    VariableForm,
    blank_form,
    definition_of,
    form_of,
    place_error,
    read_form,
    rearrange,
)
from runplane.domain.errors import Conflict, Invalid
from runplane.domain.roles import Permission
from runplane.providers.base import REASONING_EFFORTS
from runplane.services import agents as svc
from runplane.services import gate as gate_svc
from runplane.services import models
from runplane.services import tools as tools_svc

router = APIRouter()


async def model_names(request: Request, user: User) -> list[str]:
    """The models a step may pick: the tenant's catalogue (the one place the console asks)."""
    return [info.name for info, _ in await models.list_models(request.app.state.rt, user.who)]


@router.get("/agents/new")
async def new_agent(request: Request, user: UserDep) -> Response:
    """An empty editor: name the agent, describe its steps."""
    user.who.require(Permission.PUBLISH)
    return await _editor(request, user, blank_form(), None)


@router.post("/agents/new")
async def create_agent(request: Request, user: UserDep) -> Response:
    """Create the agent with its first revision (a draft; published if asked)."""
    return await _submit(request, user, None)


@router.get("/agents/{name}/edit")
async def edit_agent(request: Request, name: str, user: UserDep) -> Response:
    """The editor, filled from the agent's newest revision."""
    user.who.require(Permission.PUBLISH)
    agent = await _steps_agent(request, user, name)
    revisions = await svc.list_revisions(request.app.state.rt, user.who, agent["id"])
    config = revisions[0]["config"] if revisions else agent["config"]
    form = form_of({**(config or {}), "name": agent["name"]})
    return await _editor(
        request, user, form, agent, based_on=revisions[0]["id"] if revisions else None
    )


@router.post("/agents/{name}/edit")
async def revise_agent(request: Request, name: str, user: UserDep) -> Response:
    """Save the form as a new draft revision (published if asked)."""
    return await _submit(request, user, name)


async def _steps_agent(request: Request, user: User, name: str) -> Any:
    agent = await svc.find_agent(request.app.state.rt, user.who, name)
    if agent["kind"] != "steps":
        raise Conflict(
            f"{agent['name']} is a {agent['kind']} agent: its code is its definition, "
            "so it is changed in the project, not here",
            [{"name": "agent", "value": agent["name"]}],
        )
    return agent


async def _submit(request: Request, user: User, name: str | None) -> Response:
    posted = await request.form()
    check_csrf(user, str(posted.get("csrf") or ""))
    user.who.require(Permission.PUBLISH)
    rt = request.app.state.rt
    agent = await _steps_agent(request, user, name) if name is not None else None
    form = read_form(posted)
    if agent is not None:
        form.name = agent["name"]  # the name is the agent's: a new name is a new agent
    action = str(posted.get("action") or "save")
    if rearrange(form, action):
        return await _editor(request, user, form, agent)
    definition = definition_of(form)
    if form.has_errors():
        return await _editor(request, user, form, agent, status=422)
    try:
        if agent is None:
            agent, revision = await svc.create_step_agent(rt, user.who, definition)
        else:
            revision = await svc.revise_step_agent(rt, user.who, agent["id"], definition)
        if action == "publish":
            revision = await gate_svc.publish(rt, user.who, agent["id"], revision["id"])
    except Conflict as exc:  # the name is taken (by another agent, or by code)
        form.errors["name"] = exc.message
        return await _editor(request, user, form, agent, status=409)
    except Invalid as exc:
        names = [str(d.get("name") or "") for d in exc.details or []] or [""]
        for name in names:
            place_error(form, name, exc.message)
        return await _editor(request, user, form, agent, status=422)
    where = f"/console/agents/{quote(agent['name'])}"
    if action == "publish":
        notice = f"Saved and published revision {revision['id']}: new runs use it."
    else:
        notice = f"Saved revision {revision['id']} as a draft: run it below, or publish it."
    return redirect_with_notice(request, where, notice)


async def _editor(
    request: Request,
    user: User,
    form: AgentForm,
    agent: Any,
    status: int = 200,
    based_on: str | None = None,
) -> Response:
    tools = [str(t["name"]) for t in tools_svc.list_tools(request.app.state.rt)]
    return render(
        request,
        "agent_editor.html",
        user,
        status=status,
        form=form,
        agent=agent,
        based_on=based_on,
        models=await model_names(request, user),
        efforts=REASONING_EFFORTS,
        tools=tools,
        formats=OUTPUT_FORMATS,
        variable_types=VARIABLE_TYPES,
        blank_step=StepForm(key="KEY"),
        blank_var=VariableForm(key="KEY"),
    )
