"""The run details page: header and actions, options, live timeline, steps, result, approvals."""

import json
import math
import re
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Header, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from runplane.api.routes.files import content_disposition
from runplane.api.sse import KEEPALIVE, KeepAlive, sse_message, sse_response
from runplane.console.session import UserDep, check_csrf, redirect_with_notice
from runplane.console.views.benchmarks import run_panel
from runplane.console.views.common import render
from runplane.console.views.run_models import (
    agent_model,
    overrides_of,
    run_credits,
    step_views,
)
from runplane.domain.errors import Invalid, NotFound
from runplane.domain.events import STATUS_LABELS, describe_event, event_label
from runplane.domain.lifecycle import TERMINAL
from runplane.domain.models import iso
from runplane.schemas import ApprovalDecision
from runplane.schemas.usage import BudgetApprove
from runplane.services import agents as agents_svc
from runplane.services import approvals as approvals_svc
from runplane.services import budgets as budgets_svc
from runplane.services import files as files_svc
from runplane.services import legal_holds
from runplane.services import liveness as liveness_svc
from runplane.services import runs as runs_svc

router = APIRouter()

TERMINAL_NAMES = frozenset(str(s) for s in TERMINAL)
LIVE = ("queued", "running", "paused", "auth_required")
MAX_EVENTS = 5000  # rendered on the page; a longer log is cut (the API has it all)
EVENT_PAGE = 1000
DETAILS_CHARS = 20000
SUMMARY_CHARS = 300
STREAM_SECONDS = 600.0  # a stream ends after this; EventSource reconnects with Last-Event-ID

DELTA = "message.delta"

APPROVAL_KINDS = {"plan": "the plan", "tool_call": "a tool call", "in_doubt": "an in-doubt call"}


# -- pages -----------------------------------------------------------------------------


@router.get("/runs/{run_id}")
async def run_page(request: Request, run_id: str, user: UserDep) -> Response:
    """Everything about one run; the timeline keeps filling while it goes on."""
    rt = request.app.state.rt
    run = await liveness_svc.get_run(rt, user.who, run_id)
    steps = await runs_svc.list_steps(rt, user.who, run_id)
    events, cut = await _events(rt, user.who, run_id)
    pending, _ = await approvals_svc.list_approvals(
        rt, user.who, run_id=run_id, status="pending", limit=50, continuation_token=None
    )
    files = await files_svc.of_run(rt, user.who, run_id)
    children = await runs_svc.list_children(rt, user.who, run_id)
    run_model, result = (run["model"] or {}).get("name"), run["result"]
    overrides = [s for s in steps if s["model"] and s["model"] != run_model]
    revision = await agents_svc.revision_content(rt, run["agent_id"], run["revision_id"])
    definition = revision["config"] if revision is not None else None
    shown = fold_deltas([entry(e) for e in events])
    holds = await legal_holds.holds_of_run(rt, user.who, run)
    bench_panel = await run_panel(rt, user, run)
    return render(
        request,
        "run.html",
        user,
        run=run,
        steps=steps,
        events=shown,
        live_text=live_text(shown),
        models=step_views(steps, definition, run),
        agent_model=agent_model(definition),
        credits=run_credits(run),
        step_overrides=overrides_of(run),
        events_cut=cut,
        last_seq=events[-1]["seq"] if events else 0,
        live=run["status"] not in TERMINAL_NAMES,
        can_cancel=run["status"] in LIVE,
        status_text=status_text(run, steps, events, pending),
        approvals=[_approval_view(a) for a in pending],
        budget_wait=_budget_wait(run),
        overrides=overrides,
        sources=[_source(s) for s in (result.get("sources") or [] if result else [])],
        files=files,
        children=children,
        holds=holds,
        bp=bench_panel,
    )


@router.get("/files/{file_id}/content")
async def download_file(request: Request, file_id: str, user: UserDep) -> Response:
    """Download a file of the signed-in tenant (the run page links its files here)."""
    row, data = await files_svc.read_content(request.app.state.rt, user.who, file_id)
    return Response(
        content=data,
        media_type=row["media_type"],
        headers={
            "Content-Disposition": content_disposition(row["name"]),
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/runs/{run_id}/events")
async def run_events(
    request: Request,
    run_id: str,
    user: UserDep,
    after: Annotated[int | None, Query(ge=0)] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """The run's events after ``after`` as server-sent events, live, ending with the run."""
    rt = request.app.state.rt
    start = runs_svc.parse_resume_point(after, None)
    if last_event_id and last_event_id.isdigit():  # a reconnect: go on from what it has
        start = max(start, int(last_event_id))
    run = await runs_svc.get_run(rt, user.who, run_id)
    ended = run["status"] in TERMINAL_NAMES

    async def rows() -> AsyncIterator[Any]:
        if ended:  # nothing more will come: send what is left and stop
            after_seq = start
            while True:
                page, more = await runs_svc.list_events(rt, user.who, run_id, after_seq, 500)
                for row in page:
                    yield row
                if not more or not page:
                    return
                after_seq = page[-1]["seq"]
        async for event in runs_svc.follow_events(rt, user.who, run_id, start):
            yield event

    async def messages() -> AsyncIterator[bytes]:
        began, keepalive = time.monotonic(), KeepAlive()
        async for row in rows():
            if row is None:
                if time.monotonic() - began >= STREAM_SECONDS or await request.is_disconnected():
                    return
                if keepalive.due():
                    yield KEEPALIVE
                continue
            keepalive.sent()
            data = json.dumps(entry(row), default=str, ensure_ascii=False)
            yield sse_message("runplane", data, row["seq"])
        yield sse_message("end", "{}")

    return sse_response(messages())


@router.post("/runs/{run_id}/cancel")
async def cancel(
    request: Request, run_id: str, user: UserDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    """Ask the run to stop."""
    check_csrf(user, csrf)
    await runs_svc.cancel_run(request.app.state.rt, user.who, run_id)
    return redirect_with_notice(request, f"/console/runs/{run_id}", "Cancel requested.")


@router.post("/runs/{run_id}/repair")
async def repair(
    request: Request,
    run_id: str,
    user: UserDep,
    csrf: Annotated[str, Form()] = "",
    action: Annotated[str, Form(pattern="^(resume|fail)$")] = "resume",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Resume a stalled or lost run on a live worker, or fail it, with the reason given."""
    check_csrf(user, csrf)
    if not reason.strip():
        raise Invalid.field("reason", "say why the run is repaired", reason)
    rt = request.app.state.rt
    how: Literal["resume", "fail"] = "resume" if action == "resume" else "fail"
    await liveness_svc.repair_run(rt, user.who, run_id, how, reason.strip())
    done = "handed back to the queue" if how == "resume" else "failed"
    return redirect_with_notice(request, f"/console/runs/{run_id}", f"Run repaired: {done}.")


@router.post("/runs/{run_id}/rerun")
async def rerun(
    request: Request,
    run_id: str,
    user: UserDep,
    csrf: Annotated[str, Form()] = "",
    from_step: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """A new run with this one's configuration (from a step on: earlier steps are reused)."""
    check_csrf(user, csrf)
    step = None
    if from_step.strip():
        if not from_step.strip().isdigit() or int(from_step) < 1:
            raise Invalid.field("from_step", "from_step must be a step number", from_step)
        step = int(from_step)
    new = await runs_svc.rerun(request.app.state.rt, user.who, run_id, step, None)
    return RedirectResponse(f"/console/runs/{new['id']}", status_code=303)


@router.post("/runs/{run_id}/budget/approve")
async def approve_overrun(
    request: Request,
    run_id: str,
    user: UserDep,
    csrf: Annotated[str, Form()] = "",
    unit: Annotated[str, Form(pattern="^(credits|tokens)$")] = "credits",
    amount: Annotated[float, Form(gt=0, le=1e12)] = 0,
) -> Response:
    """Let a run paused on its budget spend this much more, and go on."""
    check_csrf(user, csrf)
    body = BudgetApprove(credits=amount) if unit == "credits" else BudgetApprove(tokens=int(amount))
    await budgets_svc.approve_overrun(request.app.state.rt, user.who, run_id, body)
    return redirect_with_notice(
        request, f"/console/runs/{run_id}", f"Overrun of {amount:g} {unit} approved."
    )


@router.post("/runs/{run_id}/approvals/{approval_id}")
async def decide(
    request: Request,
    run_id: str,
    approval_id: str,
    user: UserDep,
    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
    csrf: Annotated[str, Form()] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Approve or reject one of this run's pending approvals, then back to the run."""
    check_csrf(user, csrf)
    rt = request.app.state.rt
    approval = await approvals_svc.get_approval(rt, user.who, approval_id)
    if approval["run_id"] != run_id:
        raise NotFound(
            f"no approval {approval_id!r} in run {run_id!r}",
            [{"name": "approval_id", "value": approval_id}],
        )
    body = ApprovalDecision(decision=decision, comment=comment.strip() or None)  # type: ignore[arg-type]
    await approvals_svc.decide(rt, user.who, approval_id, body, via="console")
    done = "Approved." if decision == "approve" else "Rejected."
    return redirect_with_notice(request, f"/console/runs/{run_id}", done)


# -- what the page shows ---------------------------------------------------------------


async def _events(rt: Any, who: Any, run_id: str) -> tuple[list[Any], bool]:
    """The run's events in order, at most MAX_EVENTS (and whether the log was cut)."""
    rows: list[Any] = []
    after = 0
    while len(rows) < MAX_EVENTS:
        page, more = await runs_svc.list_events(rt, who, run_id, after, EVENT_PAGE)
        rows.extend(page)
        if not more or not page:
            return rows[:MAX_EVENTS], False
        after = page[-1]["seq"]
    return rows[:MAX_EVENTS], True


def entry(row: Mapping[str, Any]) -> dict[str, Any]:
    """An event as the timeline shows it (the page and the stream alike)."""
    kind = str(row["type"])
    data = row["data"] or {}
    details = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if len(details) > DETAILS_CHARS:
        details = details[:DETAILS_CHARS] + "\n… (cut; the API has it all)"
    at = row["at"]
    return {
        "seq": row["seq"],
        "type": kind,
        "at": iso(at) if at is not None else None,
        "time": at.astimezone(UTC).strftime("%H:%M:%S") if at is not None else "",
        "data": data,
        "label": event_label(kind),
        "css": "ev-" + re.sub(r"[^a-z0-9]+", "-", kind.lower())[:40],
        "summary": describe_event(kind, data, SUMMARY_CHARS),
        "details": details,
        "status": data.get("status") if kind == "status" else None,
        "step": data.get("step") if kind == DELTA else None,
        "text": str(data.get("text") or "") if kind == DELTA else None,
    }


def fold_deltas(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The timeline with each run of a step's ``message.delta`` pieces shown as one entry,
    its text whole (the stream appends to it the same way)."""
    shown: list[dict[str, Any]] = []
    for e in entries:
        last = shown[-1] if shown else None
        if (
            e["type"] == DELTA
            and last is not None
            and last["type"] == DELTA
            and last["step"] == e["step"]
        ):
            last["text"] += e["text"]
            last["last_seq"] = e["seq"]
            continue
        if e["type"] == DELTA:
            e = {**e, "last_seq": e["seq"]}
        shown.append(e)
    return shown


def live_text(entries: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """What the model has written so far in each step (from the folded timeline)."""
    found: dict[int, dict[str, Any]] = {}
    for e in entries:
        if e["type"] != DELTA or not isinstance(e["step"], int):
            continue
        got = found.setdefault(e["step"], {"text": "", "seq": 0})
        got["text"] += e["text"]
        got["seq"] = e["last_seq"]
    return found


def status_text(
    run: Mapping[str, Any], steps: list[Any], events: list[Any], pending: list[Any]
) -> str:
    """Where the run is, in words: "Running step 3: search", "Failed: …"."""
    status = str(run["status"])
    if status == "queued":
        return "Queued: waiting for a worker"
    if status == "running":
        going = [s for s in steps if s["status"] == "running"]
        if going:
            return f"Running step {going[-1]['number']}: {going[-1]['name']}"
        return f"Running ({run['steps_finished']} of {run['step_count']} steps finished)"
    if status == "paused":
        wait = (run["waiting_on"] or {}).get("budget") if run["waiting_on"] else None
        if isinstance(wait, Mapping):
            return (
                f"Paused on the {wait.get('scope', 'run')}'s budget: {wait.get('step')} needs "
                f"about {_num(wait.get('needs'))} {wait.get('unit')}, {_num(wait.get('used'))} "
                f"of {_num(wait.get('limit'))} used"
            )
        if pending:
            return "Waiting for approval of " + _asks(pending[0]["kind"], pending[0]["request"])
        return "Waiting for approval"
    if status == "auth_required":
        waiting = run["waiting_on"] or {}
        return (
            f"Waiting for a connection to {waiting.get('integration', 'an integration')}"
            f" for user {waiting.get('user_id') or run['user_id'] or '—'}"
        )
    if status == "failed":
        error = run["error"] or {}
        where = f" (step {error['step']})" if error.get("step") else ""
        return f"Failed{where}: {error.get('message', 'no message')}"
    if status == "canceled":
        receipt = run["cancel_receipt"] or {}
        text = f"Canceled at step {receipt['step']}" if receipt.get("step") else "Canceled"
        return text + (f": {receipt['reason']}" if receipt.get("reason") else "")
    if status == "succeeded":
        took = ""
        if run["started_at"] and run["finished_at"]:
            took = f" in {(run['finished_at'] - run['started_at']).total_seconds():.1f} s"
        return f"Succeeded{took}, {run['step_count']} step{'s' if run['step_count'] != 1 else ''}"
    return STATUS_LABELS.get(status, status)


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _budget_wait(run: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a run paused on a budget needs, and the overrun the form suggests."""
    waiting = run["waiting_on"] or {}
    wait = waiting.get("budget") if waiting.get("kind") == "budget" else None
    if run["status"] != "paused" or not isinstance(wait, Mapping):
        return None
    needs, left = float(wait.get("needs") or 0), float(wait.get("limit") or 0)
    short = needs - max(0.0, left - float(wait.get("used") or 0))
    unit = str(wait.get("unit") or "credits")
    suggest = math.ceil(short) if unit == "tokens" else round(short, 4)
    return {**wait, "unit": unit, "suggest": max(suggest, 1 if unit == "tokens" else 0.0001)}


def _asks(kind: str, request: Mapping[str, Any]) -> str:
    if kind == "tool_call":
        return f"a call to {request.get('tool')}"
    if kind == "in_doubt":
        return f"an in-doubt call to {request.get('tool')}"
    return APPROVAL_KINDS.get(kind, kind)


def _approval_view(row: Mapping[str, Any]) -> dict[str, Any]:
    request = row["request"] or {}
    plan = request.get("plan") if row["kind"] == "plan" else None
    return {
        "id": row["id"],
        "kind": row["kind"],
        "asks": _asks(row["kind"], request),
        "tool": request.get("tool"),
        "integration": request.get("integration"),
        "reason": request.get("reason"),
        "arguments": request.get("arguments"),
        "plan": plan,
        "request": request,
        "expires_at": row["expires_at"],
        "default_action": row["default_action"],
        "created_at": row["created_at"],
    }


def _source(source: Any) -> dict[str, Any]:
    if not isinstance(source, Mapping):
        return {"title": str(source), "url": None, "link": False, "excerpt": None}
    url = source.get("url")
    url = str(url) if url else None
    link = bool(url) and re.match(r"^https?://", url or "", re.IGNORECASE) is not None
    return {
        "title": str(source.get("title") or url or "Untitled"),
        "url": url,
        "link": link,
        "excerpt": source.get("excerpt"),
    }
