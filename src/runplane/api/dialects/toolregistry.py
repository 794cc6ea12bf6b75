"""toolregistry.ai Runs, at ``/toolregistry/v1`` (docs/dialects/toolregistry.md).

A toolregistry run is a run of the built-in ``intent`` agent: ``intent`` is its input,
``context`` its hidden context, ``userId`` the user it acts as,
``selectedCustomerIntegrationIds`` its allow-list (the tenant's customer integrations, by
id, or ``"*"``) and ``approvalStrategy`` its ``approval``. ``runId`` is the run's id in
UUID form. Errors are NestJS's ``{statusCode, message, error}`` (with runplane's
``details``); invalid input is a 400, as NestJS's validation pipe answers.
"""

import functools
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, model_validator

from runplane.api.deps import OptionalPrincipalDep, PrincipalDep, RuntimeDep
from runplane.api.dialects._route import dialect_route
from runplane.api.sse import event_messages, limited_sse_response
from runplane.domain.errors import BadRequest, NotFound
from runplane.domain.ids import from_uuid_form, uuid_form
from runplane.domain.json import JSONObject
from runplane.domain.models import ApprovalRecord, EventRecord, Principal, RunRecord, StepRow
from runplane.schemas import ApprovalDecision, RunCreate
from runplane.schemas.storable import check_storable
from runplane.services import approvals as approvals_svc
from runplane.services import customer_integrations as integrations_svc
from runplane.services import runs as runs_svc
from runplane.services.runtime import Runtime

AGENT = "intent"
PREFIX = "/toolregistry/v1"
Status = Literal["QUEUED", "RUNNING", "AUTH_REQUIRED", "PAUSED", "SUCCESS", "FAILED", "CANCELED"]
STATUSES: dict[str, Status] = {
    "queued": "QUEUED",
    "running": "RUNNING",
    "auth_required": "AUTH_REQUIRED",
    "paused": "PAUSED",
    "succeeded": "SUCCESS",
    "failed": "FAILED",
    "canceled": "CANCELED",
}
NATIVE_STATUS = {v: k for k, v in STATUSES.items()}
DECISIONS = {"approve": "APPROVED", "reject": "DENIED", "cancel": "CANCELED"}
APPROVAL_STATUSES = {"pending": "PENDING", "approved": "APPROVED", "rejected": "DENIED"}
NO_PLAN_YET = "Plan will be available shortly"


class ToolregistryError(BaseModel):
    """Every error of this dialect: NestJS's body, and the fields at fault."""

    statusCode: int  # noqa: N815
    message: str
    error: str
    details: list[dict[str, Any]] = []


def _render(
    status: int, message: str, details: list[dict[str, Any]], headers: dict[str, str] | None
) -> Response:
    """NestJS's error body: ``{statusCode, message, error}``, and the fields at fault."""
    body = {
        "statusCode": status,
        "message": message,
        "error": HTTPStatus(status).phrase,
        "details": details,
    }
    return JSONResponse(body, status_code=status, headers=headers)


router = APIRouter(
    prefix=PREFIX,
    tags=["toolregistry"],
    route_class=dialect_route(_render, {422: 400}, prefix=PREFIX),
    responses={
        s: {"model": ToolregistryError, "description": HTTPStatus(s).phrase}
        for s in (400, 401, 403, 404, 409, 410, 413, 422, 429, 503)
    },
)


# -- wire schemas (toolregistry's field names) ----------------------------------------


class CreateRunRequest(BaseModel):
    """The body of ``POST /runs``; fields the document has and runplane does not serve
    (``repeatKey``) are ignored."""

    intent: str = Field(min_length=1, max_length=2000)
    context: dict[str, Any] | str = {}
    userId: str | None = Field(default=None, min_length=1, max_length=200)  # noqa: N815
    selectedCustomerIntegrationIds: list[str] | Literal["*"]  # noqa: N815
    approvalStrategy: Literal["NONE", "ON_START", "ON_TOOL_CALL"] = "NONE"  # noqa: N815

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: object) -> object:
        check_storable(data)  # what the run stores must be storable (no NUL, no huge ints)
        return data


class PlanDto(BaseModel):
    """The run's plan: ``text`` or ``json``."""

    planType: Literal["text", "json"]  # noqa: N815
    plan: Any = None


class ApprovalAction(BaseModel):
    """A link that decides a pending approval: ``POST`` it."""

    action: Literal["approve", "deny"]
    url: str


class AuthDto(BaseModel):
    """What a run in ``AUTH_REQUIRED`` waits for, and where the credential goes."""

    status: Literal["required"] = "required"
    url: str
    integrationName: str  # noqa: N815
    userId: str  # noqa: N815


class CreateRunResponse(BaseModel):
    """The answer to ``POST /runs``: the run, its status and its plan."""

    runId: str  # noqa: N815
    status: Status
    stepsFinished: list[dict[str, Any]] = []  # noqa: N815
    plan: PlanDto
    approvalActions: list[ApprovalAction] = []  # noqa: N815


class RunEventDto(BaseModel):
    """One event of the run, as the SSE stream sends it."""

    id: int
    event: str
    data: dict[str, Any]


class RunDto(BaseModel):
    """A run as toolregistry shows it (``context`` for admin keys only)."""

    runId: str  # noqa: N815
    status: Status
    stepsFinished: list[dict[str, Any]] = []  # noqa: N815
    result: Any = None
    intent: str | None = None
    context: dict[str, Any] | None = None
    userId: str | None = None  # noqa: N815
    plan: PlanDto | None = None
    error: dict[str, Any] | None = None
    auth: AuthDto | None = None
    approvalActions: list[ApprovalAction] = []  # noqa: N815
    createdAt: datetime  # noqa: N815
    updatedAt: datetime  # noqa: N815
    events: list[RunEventDto] | None = None


class PaginationDto(BaseModel):
    """Where a page of runs is; pass ``continuationToken`` back for the next one."""

    page: int
    pageSize: int  # noqa: N815
    hasMore: bool  # noqa: N815
    continuationToken: str | None = None  # noqa: N815


class RunListResponse(BaseModel):
    """A page of runs, newest first."""

    runs: list[RunDto]
    pagination: PaginationDto


class ApprovalView(BaseModel):
    """What an approval link asks a person to decide."""

    runId: str  # noqa: N815
    approvalId: str  # noqa: N815
    kind: str
    status: str
    request: dict[str, Any] = {}
    approvalActions: list[ApprovalAction] = []  # noqa: N815
    createdAt: datetime  # noqa: N815
    expiresAt: datetime | None = None  # noqa: N815


class CustomerIntegrationDto(BaseModel):
    """An integration the tenant installed: ``integrationId`` names it in the catalog."""

    integrationId: str  # noqa: N815
    customerIntegrationId: str  # noqa: N815
    active: bool
    name: str
    host: str | None = None
    createdAt: datetime  # noqa: N815
    updatedAt: datetime  # noqa: N815
    description: str | None = None


# -- translation ------------------------------------------------------------------------


def _run_id(run_uuid: str) -> str:
    """The native id of a ``runId``; anything that is not a UUID is no run (404)."""
    run_id = from_uuid_form(run_uuid, "run")
    if run_id is None:
        raise NotFound("Run not found", [{"name": "runId", "value": run_uuid}])
    return run_id


def _uuid(run_id: str) -> str:
    return uuid_form(run_id, "run") or run_id


def _context(value: dict[str, Any] | str) -> dict[str, Any]:
    """Hidden context is an object; a string the document allows is kept under ``text``."""
    return value if isinstance(value, dict) else {"text": value}


def _plan(row: RunRecord) -> PlanDto:
    plan = row["plan"]
    if not plan:
        return PlanDto(planType="text", plan=NO_PLAN_YET)
    if plan.get("format") == "json":
        return PlanDto(planType="json", plan=plan.get("content"))
    return PlanDto(planType="text", plan=plan.get("content"))


def _steps(steps: Sequence[StepRow]) -> list[dict[str, Any]]:
    """The steps that finished: each one's number, name, status and output or error."""
    done = []
    for s in steps:
        if s["status"] == "running":
            continue
        item: dict[str, Any] = {"number": s["number"], "name": s["name"], "status": s["status"]}
        item["output" if s["error"] is None else "error"] = s["output"] or s["error"]
        done.append(item)
    return done


def _auth(rt: Runtime, row: RunRecord) -> AuthDto | None:
    waiting = row["waiting_on"] or {}
    if row["status"] != "auth_required" or "integration" not in waiting:
        return None
    return _auth_of(rt, str(waiting["user_id"]), str(waiting["integration"]))


def _auth_of(rt: Runtime, user_id: str, integration: str) -> AuthDto:
    """The auth link: the native request that gives the user's credential (PUT ``secret``)."""
    url = (
        f"{rt.settings.base_url}/v1/users/{quote(user_id, safe='')}"
        f"/connections/{quote(integration, safe='')}"
    )
    return AuthDto(url=url, integrationName=integration, userId=user_id)


def _actions(rt: Runtime, token: str) -> list[ApprovalAction]:
    """The approve and deny links of an approval token."""
    base = f"{rt.settings.base_url}{PREFIX}/runs/approval"
    return [
        ApprovalAction(action=a, url=f"{base}?{urlencode({'token': token, 'action': a})}")
        for a in ("approve", "deny")
    ]


async def _approval_actions(
    rt: Runtime, who: Principal, approval_id: str | None
) -> list[ApprovalAction]:
    """The links of a pending approval, for keys that may decide it (none for others)."""
    if not approval_id:
        return []
    try:
        approval = await approvals_svc.get_approval(rt, who, approval_id)
    except NotFound:
        return []
    tokens = await approvals_svc.tokens_for(rt, who, [approval])
    token = tokens.get(approval["id"])
    return [] if token is None else _actions(rt, token)


async def _run_dto(
    rt: Runtime,
    who: Principal,
    row: RunRecord,
    steps: Sequence[StepRow],
    events: list[RunEventDto] | None = None,
) -> RunDto:
    waiting = row["waiting_on"] or {}
    paused = row["status"] == "paused"
    actions = await _approval_actions(rt, who, waiting.get("approval_id")) if paused else []
    result = row["result"]
    given: Any = row["input"]
    intent = given.get("intent") if isinstance(given, dict) else None
    return RunDto(
        runId=_uuid(row["id"]),
        status=STATUSES[row["status"]],
        stepsFinished=_steps(steps),
        result=result.get("content") if isinstance(result, dict) else None,
        intent=intent if isinstance(intent, str) else None,
        context=row["context"] if who.is_admin else None,
        userId=row["user_id"],
        plan=_plan(row) if row["plan"] else None,
        error=dict(row["error"]) if row["error"] else None,
        auth=_auth(rt, row),
        approvalActions=actions,
        createdAt=row["created_at"],
        updatedAt=row["updated_at"],
        events=events,
    )


class _Translator:
    """Native events to toolregistry's: ``status``, ``step.started``, ``step.completed``,
    ``approval.required``, ``approval.resolved``, ``result``, ``error`` and ``auth.required``.

    Every event carries ``runId``, ``runStatus`` and ``timestamp``; the others are skipped.
    """

    def __init__(self, rt: Runtime, who: Principal, run_id: str, status: str) -> None:
        self.rt, self.who, self.run_uuid = rt, who, _uuid(run_id)
        self.status = STATUSES.get(status, "QUEUED")

    async def translate(self, row: EventRecord) -> tuple[str, dict[str, Any]] | None:
        """The event's name and data in toolregistry's vocabulary, or None to skip it."""
        kind = row["type"]
        data: dict[str, Any] = dict(row["data"])
        body: dict[str, Any]
        if kind == "status":
            self.status = STATUSES.get(str(data.get("status")), self.status)
            body = {"status": self.status}
            waiting = data.get("waiting_on") or {}
            if self.status == "AUTH_REQUIRED" and "integration" in waiting:
                auth = _auth_of(self.rt, str(waiting["user_id"]), str(waiting["integration"]))
                body["auth"] = auth.model_dump()
            if data.get("receipt"):
                body["receipt"] = data["receipt"]
        elif kind == "auth.required":
            kind, self.status = "auth.required", "AUTH_REQUIRED"
            body = {"auth": _auth_of(self.rt, data["user_id"], data["integration"]).model_dump()}
            body["auth"]["tool"] = data.get("tool")
        elif kind in ("step.started", "step.completed", "step.failed"):
            step = {"number": data.get("number"), "name": data.get("name")}
            if kind == "step.completed":
                step |= {"status": "completed", "output": data.get("output")}
            elif kind == "step.failed":
                kind = "step.completed"
                step |= {"status": "failed", "error": data.get("error")}
            body = {"step": step}
        elif kind == "approval.required":
            self.status = "PAUSED"
            actions = await _approval_actions(self.rt, self.who, data.get("approval_id"))
            body = {
                "approval": {
                    "approvalId": data.get("approval_id"),
                    "kind": data.get("kind"),
                    "request": data.get("request"),
                    "expiresAt": data.get("expires_at"),
                },
                "approvalActions": [a.model_dump() for a in actions],
            }
        elif kind == "approval.resolved":
            decision = str(data.get("decision"))
            body = {
                "approval": {
                    "approvalId": data.get("approval_id"),
                    "kind": data.get("kind"),
                    "decision": DECISIONS.get(decision, decision.upper()),
                    "decidedVia": data.get("decided_via"),
                    "comment": data.get("comment"),
                }
            }
        elif kind == "result":
            body = {"result": data.get("content")}
        elif kind == "error":
            body = {"error": {"code": data.get("code"), "message": data.get("message")}}
        else:
            return None
        stamp = row["at"].isoformat()
        return kind, {"runId": self.run_uuid, "runStatus": self.status, "timestamp": stamp, **body}


async def _events(rt: Runtime, who: Principal, row: RunRecord) -> list[RunEventDto]:
    """The run's whole log, translated (at most 1000 events)."""
    native, _ = await runs_svc.list_events(rt, who, row["id"], 0, 1000)
    translator = _Translator(rt, who, row["id"], "queued")
    found = []
    for event in native:
        out = await translator.translate(event)
        if out is not None:
            found.append(RunEventDto(id=event["seq"], event=out[0], data=out[1]))
    return found


# -- routes -----------------------------------------------------------------------------


@router.post("/runs", status_code=201, response_model=CreateRunResponse)
async def create_run(
    body: CreateRunRequest, rt: RuntimeDep, who: PrincipalDep
) -> CreateRunResponse:
    """Start an intent run; the answer carries its plan (and approval links for ON_START)."""
    selected = body.selectedCustomerIntegrationIds
    native = RunCreate(
        agent_id=AGENT,
        input={"intent": body.intent},
        context=_context(body.context),
        user_id=body.userId,
        integrations="*" if selected in ("*", ["*"]) else selected,
        approval=body.approvalStrategy,
    )
    row = await runs_svc.create_run(rt, who, native)
    steps = (await runs_svc.steps_of(rt, [row]))[row["id"]]
    waiting = row["waiting_on"] or {}
    paused = row["status"] == "paused"
    actions = await _approval_actions(rt, who, waiting.get("approval_id")) if paused else []
    return CreateRunResponse(
        runId=_uuid(row["id"]),
        status=STATUSES[row["status"]],
        stepsFinished=_steps(steps),
        plan=_plan(row),
        approvalActions=actions,
    )


@router.get("/runs", response_model=RunListResponse)
async def list_runs(
    rt: RuntimeDep,
    who: PrincipalDep,
    status: Status | None = None,
    userId: Annotated[str | None, Query(max_length=200)] = None,  # noqa: N803
    includeEvents: bool = False,  # noqa: N803
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
    pageSize: Annotated[int, Query(ge=1, le=100)] = 10,  # noqa: N803
    continuationToken: Annotated[str | None, Query(max_length=500)] = None,  # noqa: N803
) -> RunListResponse:
    """Intent runs, newest first; the next page is by ``continuationToken`` (keyset)."""
    if page > 1 and continuationToken is None:
        raise BadRequest(
            "pages past the first are reached with the continuationToken of the one before",
            [{"name": "page", "value": page}],
        )
    rows, token = await runs_svc.list_runs(
        rt,
        who,
        agent_id=AGENT,
        status=NATIVE_STATUS[status] if status else None,
        q=None,
        archived=False,
        trigger=None,
        parent_run_id=None,
        limit=pageSize,
        continuation_token=continuationToken,
        user_id=userId,
    )
    steps = await runs_svc.steps_of(rt, rows)
    runs = []
    for row in rows:
        events = await _events(rt, who, row) if includeEvents else None
        runs.append(await _run_dto(rt, who, row, steps[row["id"]], events))
    pagination = PaginationDto(
        page=page, pageSize=pageSize, hasMore=token is not None, continuationToken=token
    )
    return RunListResponse(runs=runs, pagination=pagination)


@router.get("/runs/approval", response_model=ApprovalView)
async def view_approval(
    rt: RuntimeDep, who: OptionalPrincipalDep, token: Annotated[str, Query(max_length=2000)]
) -> ApprovalView:
    """The approval a link names, and its approve and deny links (looking uses nothing up)."""
    approval = await approvals_svc.view_by_token(rt, who, token)
    return _approval_view(rt, approval, token)


@router.post("/runs/approval", status_code=204, response_class=Response)
async def decide_approval(
    rt: RuntimeDep,
    who: OptionalPrincipalDep,
    token: Annotated[str, Query(max_length=2000)],
    action: Literal["approve", "deny"],
    comment: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    """Approve or deny by a single-use link; no content. A denied plan cancels the run."""
    decision = ApprovalDecision(
        decision="approve" if action == "approve" else "reject", comment=comment
    )
    await approvals_svc.decide_by_token(rt, who, token, decision)
    return Response(status_code=204)


def _approval_view(rt: Runtime, approval: ApprovalRecord, token: str) -> ApprovalView:
    pending = approval["status"] == "pending"
    return ApprovalView(
        runId=_uuid(approval["run_id"]),
        approvalId=approval["id"],
        kind=approval["kind"],
        status=APPROVAL_STATUSES.get(approval["status"], approval["status"].upper()),
        request=dict(approval["request"] or {}),
        approvalActions=_actions(rt, token) if pending else [],
        createdAt=approval["created_at"],
        expiresAt=approval["expires_at"],
    )


@router.get("/runs/{runId}", response_model=RunDto)
async def get_run(
    runId: str,  # noqa: N803
    rt: RuntimeDep,
    who: PrincipalDep,
    includeEvents: bool = True,  # noqa: N803
) -> RunDto:
    """One run: status, finished steps, result, and the auth or approval links it waits on."""
    row = await runs_svc.get_run(rt, who, _run_id(runId), field="runId")
    steps = (await runs_svc.steps_of(rt, [row]))[row["id"]]
    events = await _events(rt, who, row) if includeEvents else None
    return await _run_dto(rt, who, row, steps, events)


@router.delete("/runs/{runId}", response_model=RunDto)
async def abort_run(runId: str, rt: RuntimeDep, who: PrincipalDep) -> RunDto:  # noqa: N803
    """Abort a queued, running, paused or auth-required run (a finished one is a 409)."""
    row = await runs_svc.cancel_run(rt, who, _run_id(runId))
    steps = (await runs_svc.steps_of(rt, [row]))[row["id"]]
    return await _run_dto(rt, who, row, steps)


@router.get("/runs/{runId}/sse", response_class=StreamingResponse)
async def stream_run(
    runId: str,  # noqa: N803
    rt: RuntimeDep,
    who: PrincipalDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """The run's events as server-sent events until it ends; resume with ``Last-Event-ID``."""
    run_id = _run_id(runId)
    start = runs_svc.parse_resume_point(None, last_event_id)
    await runs_svc.get_run(rt, who, run_id, field="runId")
    translator = _Translator(rt, who, run_id, await _status_at(rt, who, run_id, start))
    native = runs_svc.follow_events(rt, who, run_id, start)
    return limited_sse_response(
        rt, who, event_messages(native, functools.partial(_rendered, translator))
    )


async def _status_at(rt: Runtime, who: Principal, run_id: str, seq: int) -> str:
    """The run's status as of event ``seq``: where a resumed stream's ``runStatus`` starts."""
    status = "queued"
    if seq:
        earlier, _ = await runs_svc.list_events(rt, who, run_id, 0, seq)
        for event in earlier:
            if event["type"] == "status":
                status = str(event["data"].get("status", status))
    return status


async def _rendered(t: "_Translator", row: EventRecord) -> tuple[str, str] | None:
    """An event as toolregistry's stream sends it, or None when it has no counterpart."""
    out = await t.translate(row)
    return None if out is None else (out[0], json.dumps(out[1], default=str))


# -- customer integrations --------------------------------------------------------------


@router.get("/integrations", response_model=list[CustomerIntegrationDto])
async def list_integrations(
    rt: RuntimeDep, who: PrincipalDep, active: bool = True
) -> list[CustomerIntegrationDto]:
    """The tenant's installed integrations, active ones by default."""
    rows = await integrations_svc.list_installed(rt, who, active)
    return [_integration_dto(r) for r in rows]


def _integration_dto(row: Mapping[str, Any]) -> CustomerIntegrationDto:
    settings: JSONObject = row["settings"] or {}
    host, description = settings.get("host"), settings.get("description")
    return CustomerIntegrationDto(
        integrationId=row["integration"],
        customerIntegrationId=row["id"],
        active=row["active"],
        name=row["name"],
        host=host if isinstance(host, str) else None,
        createdAt=row["created_at"],
        updatedAt=row["updated_at"],
        description=description if isinstance(description, str) else None,
    )
