"""The approvals inbox: what runs wait for, and approving or rejecting it."""

import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from runplane.console.session import UserDep, check_csrf, redirect_with_notice
from runplane.console.views.common import render
from runplane.domain.errors import Conflict, Forbidden, Invalid, NotFound
from runplane.schemas import ApprovalDecision
from runplane.services import approvals as svc
from runplane.services import runs as runs_svc

router = APIRouter()
PAGE_SIZE = 25
STATUSES = {
    "pending": "Waiting",
    "approved": "Approved",
    "rejected": "Rejected",
    "canceled": "Canceled",
    "all": "All",
}
KINDS = {"tool_call": "Tool call", "plan": "Plan", "in_doubt": "In doubt"}
# What a button asks for: (decision, action) of the service's ApprovalDecision.
CHOICES: dict[str, tuple[str | None, str | None]] = {
    "approve": ("approve", None),
    "reject": ("reject", None),
    "repeat": (None, "repeat"),
    "skip": (None, "skip"),
    "fail": (None, "fail"),
}
DONE = {
    "approve": "Approved — the run goes on.",
    "reject": "Rejected.",
    "repeat": "The call will be made again — the run goes on.",
    "skip": "The call is skipped — the run goes on.",
    "fail": "The run will fail.",
}


@router.get("/approvals")
async def approvals_page(
    request: Request,
    user: UserDep,
    status: Annotated[str, Query(max_length=20)] = "pending",
    page: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    """The tenant's approvals, newest first; those still waiting unless asked otherwise."""
    rt = request.app.state.rt
    if status not in STATUSES:
        status = "pending"
    rows, next_token = await svc.list_approvals(
        rt,
        user.who,
        run_id=None,
        status=None if status == "all" else status,
        limit=PAGE_SIZE,
        continuation_token=page or None,
    )
    runs: dict[str, Any] = {}
    for row in rows:
        if row["run_id"] not in runs:
            try:
                runs[row["run_id"]] = await runs_svc.get_run(rt, user.who, row["run_id"])
            except NotFound:
                runs[row["run_id"]] = None
    links = await svc.links_for(rt, user.who, rows)  # only for what this session may decide
    items = [_item(row, runs.get(row["run_id"]), links.get(row["id"])) for row in rows]
    return render(
        request,
        "approvals.html",
        user,
        items=items,
        shown=status,
        STATUSES=STATUSES,
        next_token=next_token,
        first_page=page is None,
    )


@router.post("/approvals/{approval_id}/decide")
async def decide(
    request: Request,
    approval_id: str,
    user: UserDep,
    decision: Annotated[str, Form(pattern="^(approve|reject|repeat|skip|fail)$")],
    comment: Annotated[str, Form(max_length=5000)] = "",
    arguments: Annotated[str, Form(max_length=200_000)] = "",
    result: Annotated[str, Form(max_length=200_000)] = "",
    csrf: Annotated[str, Form()] = "",
    back: Annotated[str, Form(max_length=40)] = "pending",
) -> Response:
    """Approve or reject; the run resumes at once. Refusals come back as a notice."""
    check_csrf(user, csrf)
    rt = request.app.state.rt
    verdict, action = CHOICES[decision]
    try:
        approval = await svc.get_approval(rt, user.who, approval_id)
        body = ApprovalDecision(
            decision=verdict,  # type: ignore[arg-type]
            action=action,  # type: ignore[arg-type]
            comment=comment.strip() or None,
            arguments=_edited(approval, decision, arguments),
            result=_json(result, "result") if decision == "skip" and result.strip() else None,
        )
        await svc.decide(rt, user.who, approval_id, body, via="console")
    except (Conflict, Forbidden, Invalid) as exc:
        return _back(request, back, f"Not done: {exc.message}")
    notice = DONE[decision]
    if decision == "reject" and approval["kind"] == "plan":
        notice = "Rejected — the run was canceled."
    return _back(request, back, notice)


def _item(row: Any, run: Any, link: str | None = None) -> dict[str, Any]:
    """What the inbox shows of one approval."""
    request = row["request"] or {}
    plan = request.get("plan") if row["kind"] == "plan" else None
    content = plan.get("content") if isinstance(plan, dict) else plan
    is_text = isinstance(content, str) and (
        not isinstance(plan, dict) or plan.get("format") != "json"
    )
    return {
        "row": row,
        "run": run,
        "kind_label": KINDS.get(row["kind"], row["kind"]),
        "tool": request.get("tool"),
        "integration": request.get("integration"),
        "reason": request.get("reason"),
        "arguments": request.get("arguments"),
        "plan_text": content if is_text else None,
        "plan_json": content if plan is not None and not is_text else None,
        "choices": request.get("choices"),
        "link": link,
    }


def _edited(approval: Any, decision: str, text: str) -> dict[str, Any] | None:
    """Arguments changed before approving a tool call; None when left as asked."""
    if decision != "approve" or approval["kind"] != "tool_call" or not text.strip():
        return None
    value = _json(text, "arguments")
    if not isinstance(value, dict):
        raise Invalid.field("arguments", "the arguments must be a JSON object")
    if value == (approval["request"] or {}).get("arguments"):
        return None
    return value


def _json(text: str, field: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"{field}: not valid JSON ({exc.msg}, line {exc.lineno})"
        raise Invalid.field(field, message) from None


def _back(request: Request, status: str, notice: str) -> RedirectResponse:
    url = "/console/approvals"
    if status in STATUSES and status != "pending":
        url += "?" + urlencode({"status": status})
    return redirect_with_notice(request, url, notice)
