"""The runs list: search, filters, pages, bulk archive/delete, duplicate, live statuses."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from runplane.api.sse import sse_message, sse_response
from runplane.console.session import UserDep, check_csrf, redirect_with_notice
from runplane.console.views.common import render
from runplane.domain.errors import Conflict, RunplaneError
from runplane.domain.lifecycle import TERMINAL
from runplane.domain.roles import Permission
from runplane.services import agents as agents_svc
from runplane.services import liveness as liveness_svc
from runplane.services import run_deletion
from runplane.services import runs as runs_svc

router = APIRouter()
PAGE_SIZE = 25
STATUS_POLL_SECONDS = 1.0


@router.get("/runs")
async def runs_page(
    request: Request,
    user: UserDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    agent: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(max_length=40)] = None,
    archived: bool = False,
    page: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    """Runs, newest first, with search, filters and pages."""
    rt = request.app.state.rt
    rows, next_token = await runs_svc.list_runs(
        rt,
        user.who,
        agent_id=agent or None,
        status=status or None,
        q=q or None,
        archived=archived,
        trigger=None,
        parent_run_id=None,
        limit=PAGE_SIZE,
        continuation_token=page or None,
    )
    live = await liveness_svc.with_liveness(rt, user.who, rows)
    agents = await agents_svc.list_agents(rt, user.who)
    filters = {"q": q or "", "agent": agent or "", "status": status or "", "archived": archived}
    return render(
        request,
        "runs.html",
        user,
        runs=live,
        agents=agents,
        filters=filters,
        next_token=next_token,
        first_page=page is None,
    )


@router.post("/runs/bulk")
async def bulk(
    request: Request,
    user: UserDep,
    action: Annotated[str, Form(pattern="^(archive|unarchive|delete)$")],
    run_ids: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI form default
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Archive, unarchive or delete the selected runs; say why for those that can't be."""
    check_csrf(user, csrf)
    # A role that may not do this at all gets the 403 page, not one refusal per run.
    user.who.require(Permission.DELETE if action == "delete" else Permission.CREATE_RUNS)
    rt = request.app.state.rt
    done, refused, asked = 0, [], []
    for run_id in run_ids[:200]:
        try:
            if action == "delete":
                request_made = await run_deletion.delete_run(
                    rt, user.who, run_id, "deleted in the console"
                )
                if request_made is not None:  # the policy wants a second admin's approval
                    asked.append(run_id)
                    continue
            else:
                await runs_svc.set_archived(rt, user.who, run_id, action == "archive")
            done += 1
        except (Conflict, RunplaneError) as exc:
            refused.append(f"{run_id}: {exc.message}")
    verb = {"archive": "archived", "unarchive": "restored", "delete": "deleted"}[action]
    notice = f"{done} run{'s' if done != 1 else ''} {verb}."
    if asked:
        notice += f" Sent for approval (the policy asks for it): {', '.join(asked)}."
    if refused:
        notice += " Not " + verb + ": " + "; ".join(refused)
    # Back to the list the form was on, its filters kept; never to another page or site.
    came_from = urlsplit(request.headers.get("referer") or "")
    back = "/console/runs"
    if came_from.path == back and came_from.query:
        back += "?" + came_from.query
    return redirect_with_notice(request, back, notice)


@router.post("/runs/{run_id}/duplicate")
async def duplicate(
    request: Request, run_id: str, user: UserDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    """Start a new run with this one's configuration."""
    check_csrf(user, csrf)
    new = await runs_svc.duplicate(request.app.state.rt, user.who, run_id, {})
    return RedirectResponse(f"/console/runs/{new['id']}", status_code=303)


@router.get("/runs-statuses")
async def statuses(
    request: Request, user: UserDep, ids: Annotated[str, Query(max_length=4000)] = ""
) -> StreamingResponse:
    """Server-sent status changes of the listed runs, until they have all ended."""
    rt = request.app.state.rt
    wanted = [i for i in ids.split(",") if i][: PAGE_SIZE * 2]

    async def changes() -> AsyncIterator[bytes]:
        seen: dict[str, str] = {}
        while wanted:
            for run_id in list(wanted):
                try:
                    run = await runs_svc.get_run(rt, user.who, run_id)
                except RunplaneError:
                    wanted.remove(run_id)
                    continue
                state = f"{run['status']}:{run['steps_finished']}/{run['step_count']}"
                if seen.get(run_id) != state:
                    seen[run_id] = state
                    data = {
                        "id": run_id,
                        "status": str(run["status"]),
                        "steps": f"{run['steps_finished']}/{run['step_count']}",
                        "updated_at": run["updated_at"].isoformat(),
                    }
                    yield sse_message("status", json.dumps(data))
                if run["status"] in TERMINAL:
                    wanted.remove(run_id)
            if await request.is_disconnected():
                return
            await asyncio.sleep(STATUS_POLL_SECONDS)
        yield sse_message("done", "{}")

    return sse_response(changes())
