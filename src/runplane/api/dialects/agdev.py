"""ag.dev v0.1 agents and runs, at ``/agdev/v0.1`` (docs/dialects/agdev.md).

ag.dev's wire format, in its camelCase names, over the services the native API calls:
a run's status folds to ``pending``/``running``/``done``/``error``, its result to
``resultType``/``resultData``, its event log to the event types ag.dev documents.
Errors answer ``{"error": {"code", "message", "details"}}``, the shape of a run's own
``error``. Ids are runplane's own (``agt_…``, ``rev_…``, ``run_…``): ag.dev's are opaque.
"""

import copy
import json
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.api.dialects._route import dialect_route
from runplane.api.errors import UNREADABLE_BODY
from runplane.domain import errors
from runplane.domain.errors import BadRequest, Invalid, NotFound
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import AgentRecord, EventRecord, Principal, RevisionRecord, RunRecord
from runplane.domain.roles import Permission
from runplane.schemas import RunCreate
from runplane.services import agents as agents_svc
from runplane.services import gate as gate_svc
from runplane.services import runs as runs_svc
from runplane.services.runtime import Runtime

# runplane's error classes give the codes; the statuses are runplane's own (ag.dev
# documents neither).
CODES: dict[int, str] = {
    cls.status: cls.code
    for cls in (
        errors.BadRequest,
        errors.Unauthorized,
        errors.Forbidden,
        errors.NotFound,
        errors.Conflict,
        errors.Gone,
        errors.PayloadTooLarge,
        errors.Invalid,
        errors.TooManyRequests,
        errors.ServiceUnavailable,
        errors.RunplaneError,
    )
} | {405: "method_not_allowed"}

STATUSES: dict[str, Literal["pending", "running", "done", "error"]] = {
    RunStatus.QUEUED: "pending",
    RunStatus.RUNNING: "running",
    RunStatus.PAUSED: "running",
    RunStatus.AUTH_REQUIRED: "running",
    RunStatus.SUCCEEDED: "done",
    RunStatus.FAILED: "error",
    RunStatus.CANCELED: "error",
}
EventType = Literal["planning", "reasoning", "tool_call", "context_compression"]
# Native events shown as they are; ``tool_call`` is joined with its ``tool_result``.
_AS_IS = frozenset({"planning", "reasoning", "context_compression"})
_BODY_FIELDS = frozenset({"input", "revisionId"})
# The services name fields natively; an error here names them as ag.dev does.
_NAMES = {"agent_id": "agentId", "revision_id": "revisionId", "run_id": "runId"}
# How many rows one read takes while walking past ``offset``.
_PAGE = 500
_DOCUMENTED = frozenset(
    {
        "list_agents",
        "get_agent",
        "list_revisions",
        "publish_revision",
        "create_run",
        "list_runs",
        "get_run",
        "list_run_events",
    }
)
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "value"],
                        "properties": {"name": {"type": "string"}, "value": {}},
                    },
                },
            },
        }
    },
}


def error_response(
    status: int,
    message: str,
    details: Sequence[Mapping[str, object]] | None = None,
    headers: dict[str, str] | None = None,
    code: str | None = None,
) -> JSONResponse:
    """An error in this dialect's model: ``{"error": {"code", "message", "details"}}``."""
    body = {
        "error": {
            "code": code or CODES.get(status, "error"),
            "message": message,
            "details": list(details or []),
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _render(
    status: int, message: str, details: list[dict[str, Any]], headers: dict[str, str] | None
) -> Response:
    named = [{**d, "name": _NAMES.get(d["name"], d["name"])} for d in details]
    return error_response(status, message, named, headers)


# Out of runplane's own /openapi.json (whose errors are ErrorBody): this dialect documents
# itself, errors in its own model, at /agdev/v0.1/openapi.json.
router = APIRouter(
    prefix="/agdev/v0.1",
    tags=["agdev"],
    route_class=dialect_route(_render, prefix="/agdev/v0.1"),
    include_in_schema=False,
)


# -- wire models -----------------------------------------------------------------------


class _Wire(BaseModel):
    """A model whose fields travel in camelCase, as ag.dev writes them."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class RunCreateBody(_Wire):
    """The body of ``POST /agents/{agentId}/runs``: the input, and a revision if not the published one."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=False, extra="forbid")

    input: dict[str, Any] = {}
    revision_id: str | None = Field(default=None, min_length=1, max_length=200)


class RunErrorOut(_Wire):
    """Why a run ended ``error``."""

    code: str
    message: str


class SourceOut(_Wire):
    """A source the agent consulted."""

    url: str | None = None
    title: str | None = None


class ResultDataOut(_Wire):
    """A done run's result: the document's text or the JSON value, and its sources."""

    result: Any = None
    sources: list[SourceOut] = []


class RunOut(_Wire):
    """A run as ag.dev shows it; ``error`` is present only when ``status`` is ``error``."""

    id: str
    agent_id: str
    revision_id: str
    input: Any = None
    status: Literal["pending", "running", "done", "error"]
    error: RunErrorOut | None = Field(default=None, exclude_if=lambda error: error is None)
    created_at: datetime
    updated_at: datetime
    result_type: Literal["document", "json"] | None = None
    result_data: ResultDataOut | None = None


class EventOut(_Wire):
    """One entry of a run's log: a plan, a piece of reasoning, a tool call."""

    id: str
    run_id: str
    type: EventType
    data: dict[str, Any] = {}
    started_at: datetime | None = None
    finished_at: datetime | None = None


class AgentOut(_Wire):
    """An agent, with the fields of ag.dev's that runplane has (docs/dialects/agdev.md)."""

    id: str
    name: str
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    result_type: Literal["document", "json"] = "json"
    result_schema: dict[str, Any] | None = None
    is_active: bool = True
    kind: str
    published_revision_id: str | None = None
    created_at: datetime
    updated_at: datetime


class RevisionOut(_Wire):
    """An immutable snapshot of an agent's definition; ``published`` marks the one runs use."""

    id: str
    agent_id: str
    created_at: datetime
    published: bool
    published_at: datetime | None = None
    hash: str


# -- translation -----------------------------------------------------------------------


def run_out(row: RunRecord) -> RunOut:
    """A native run in ag.dev's shape (it has no hidden ``context``: nothing to hide)."""
    status = STATUSES[row["status"]]
    error = None
    if status == "error":
        native: Mapping[str, object] = row["error"] or {}
        error = RunErrorOut(
            code=str(native.get("code") or row["status"]),
            message=str(native.get("message") or f"the run was {row['status']}"),
        )
    result = row["result"] if status == "done" else None
    return RunOut(
        id=row["id"],
        agent_id=row["agent_id"],
        revision_id=row["revision_id"],
        input=row["input"],
        status=status,
        error=error,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        result_type=result["type"] if result else None,
        result_data=ResultDataOut(
            result=result["content"],
            sources=[
                SourceOut(url=_text(s.get("url")), title=_text(s.get("title")))
                for s in result["sources"]
            ],
        )
        if result
        else None,
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def events_out(run_id: str, rows: Sequence[EventRecord]) -> list[EventOut]:
    """A native log as ag.dev's events: each ``tool_call`` finished by its ``tool_result``."""
    out: list[EventOut] = []
    calls: dict[str, deque[EventOut]] = {}  # a tool's calls still waiting for their result
    for row in rows:
        kind, data = row["type"], dict(row["data"] or {})
        if kind in _AS_IS:
            out.append(_event(run_id, row, data, finished=True))
        elif kind == "tool_call":
            event = _event(run_id, row, data, finished=False)
            calls.setdefault(str(data.get("name")), deque()).append(event)
            out.append(event)
        elif kind == "tool_result" and calls.get(str(data.get("name"))):
            event = calls[str(data.get("name"))].popleft()
            event.finished_at = row["at"]
            event.data["result"] = {
                "ok": data.get("ok"),
                "output": data.get("output"),
                "durationMs": data.get("duration_ms"),
                **{k: data[k] for k in ("error", "rejected", "comment") if k in data},
            }
    return out


def _event(run_id: str, row: EventRecord, data: dict[str, Any], finished: bool) -> EventOut:
    return EventOut(
        id=f"{run_id}:{row['seq']}",
        run_id=run_id,
        type=row["type"],  # type: ignore[arg-type]  # one of EventType, checked by the caller
        data=data,
        started_at=row["at"],
        finished_at=row["at"] if finished else None,
    )


def agent_out(row: AgentRecord) -> AgentOut:
    """An agent in ag.dev's shape."""
    config = row["config"] or {}
    return AgentOut(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        input_schema=config.get("input_schema"),  # type: ignore[arg-type]
        result_type=config.get("output") or "json",  # type: ignore[arg-type]
        result_schema=config.get("output_schema"),  # type: ignore[arg-type]
        kind=row["kind"],
        published_revision_id=row["published_revision_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def revision_out(row: RevisionRecord) -> RevisionOut:
    """A revision in ag.dev's shape."""
    return RevisionOut(
        id=row["id"],
        agent_id=row["agent_id"],
        created_at=row["created_at"],
        published=row["stage"] == "published",
        published_at=row["published_at"],
        hash=row["hash"],
    )


def parse_run_body(raw: bytes) -> RunCreateBody:
    """The body as ag.dev sends it: JSON whatever its Content-Type (its ``curl`` sets none)."""
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(UNREADABLE_BODY, [{"name": "body", "value": None}]) from None
    if not isinstance(data, dict):
        raise Invalid.field("body", 'the body is a JSON object: {"input": {...}}', data)
    unknown = sorted(set(data) - _BODY_FIELDS)
    if unknown:
        raise Invalid(
            f"{unknown[0]}: unknown field; the body is "
            '{"input": {...}, "revisionId": "..."} (the agent\'s input goes under "input")',
            [{"name": name, "value": data[name]} for name in unknown],
        )
    try:
        return RunCreateBody.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None


async def _agent_run(rt: Runtime, who: Principal, agent_ref: str, run_id: str) -> RunRecord:
    """A run of the agent named in the path (a run of another agent is not found here)."""
    agent = await agents_svc.find_agent(rt, who, agent_ref)
    run = await runs_svc.get_run(rt, who, run_id)
    if run["agent_id"] != agent["id"]:
        raise NotFound(
            f"agent {agent['name']!r} has no run {run_id!r}", [{"name": "runId", "value": run_id}]
        )
    return run


async def _all_events(rt: Runtime, who: Principal, run_id: str) -> list[EventRecord]:
    rows: list[EventRecord] = []
    after = 0
    while True:
        page, token = await runs_svc.list_events(rt, who, run_id, after, _PAGE)
        rows += page
        if token is None:
            return rows
        after = int(token)


Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]
_RUN_BODY_SCHEMA = RunCreateBody.model_json_schema(by_alias=True)


# -- agents ----------------------------------------------------------------------------


@router.get("/agents", response_model=list[AgentOut])
async def list_agents(
    rt: RuntimeDep, who: PrincipalDep, limit: Limit = 20, offset: Offset = 0
) -> list[AgentOut]:
    """The tenant's agents, by name."""
    rows = await agents_svc.list_agents(rt, who)
    return [agent_out(r) for r in rows[offset : offset + limit]]


@router.post("/agents", include_in_schema=False)
@router.patch("/agents/{agent_id}", include_in_schema=False)
async def agents_are_defined_in_code() -> Response:
    """Agents are defined in code (runplane.toml), not created or changed over this API."""
    return error_response(
        405,
        "agents are defined in code in runplane (the project file, runplane.toml): "
        "change the code and a new revision is recorded; publish it with "
        "POST /agents/{agentId}/revisions/{revisionId}/publish",
        headers={"Allow": "GET"},
        code="agents_defined_in_code",
    )


@router.get("/agents/{agent_id}", response_model=AgentOut)
async def get_agent(agent_id: str, rt: RuntimeDep, who: PrincipalDep) -> AgentOut:
    """One agent, by id (``agt_…``) or name."""
    return agent_out(await agents_svc.find_agent(rt, who, agent_id))


@router.get("/agents/{agent_id}/revisions", response_model=list[RevisionOut])
async def list_revisions(
    agent_id: str, rt: RuntimeDep, who: PrincipalDep, limit: Limit = 20, offset: Offset = 0
) -> list[RevisionOut]:
    """The agent's revisions, newest first."""
    rows = await agents_svc.list_revisions(rt, who, agent_id)
    return [revision_out(r) for r in rows[offset : offset + limit]]


@router.post("/agents/{agent_id}/revisions/{revision_id}/publish", response_model=RevisionOut)
async def publish_revision(
    agent_id: str, revision_id: str, rt: RuntimeDep, who: PrincipalDep
) -> RevisionOut:
    """Make this revision the one runs use when they name none."""
    return revision_out(await gate_svc.publish(rt, who, agent_id, revision_id))


# -- runs ------------------------------------------------------------------------------


@router.post(
    "/agents/{agent_id}/runs",
    status_code=201,
    response_model=RunOut,
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": _RUN_BODY_SCHEMA}},
        }
    },
)
async def create_run(
    agent_id: str,
    request: Request,
    rt: RuntimeDep,
    who: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Start a run of the agent on ``input``: its published revision, or ``revisionId``."""
    body = parse_run_body(await request.body())
    who.require(Permission.CREATE_RUNS)
    agent = await agents_svc.find_agent(rt, who, agent_id)
    if body.revision_id is None and agent["published_revision_id"] is None:
        return error_response(
            409,
            f"agent {agent['name']!r} has no published revision: publish one "
            "(POST /agents/{agentId}/revisions/{revisionId}/publish) or name one in revisionId",
            [{"name": "agentId", "value": agent_id}],
            code="no_published_revision",
        )
    try:
        create = RunCreate(agent_id=agent["id"], revision_id=body.revision_id, input=body.input)
    except ValidationError as exc:
        # RunCreate checks that the input can be stored (integers in 64 bits, depth, …).
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise Invalid.field("input", message.replace("body.input", "input"), body.input) from None
    row = await runs_svc.create_run(rt, who, create, idempotency_key=idempotency_key)
    return run_out(row)


@router.get("/agents/{agent_id}/runs", response_model=list[RunOut])
async def list_runs(
    agent_id: str, rt: RuntimeDep, who: PrincipalDep, limit: Limit = 20, offset: Offset = 0
) -> list[RunOut]:
    """The agent's runs, newest first."""
    agent = await agents_svc.find_agent(rt, who, agent_id)
    rows: list[RunRecord] = []
    token: str | None = None
    # The service pages by key; ``offset`` is walked past one page at a time.
    while len(rows) < offset + limit:
        page, token = await runs_svc.list_runs(
            rt,
            who,
            agent_id=agent["id"],
            status=None,
            q=None,
            archived=False,
            trigger=None,
            parent_run_id=None,
            limit=min(offset + limit - len(rows), _PAGE),
            continuation_token=token,
        )
        rows += page
        if token is None:
            break
    return [run_out(r) for r in rows[offset : offset + limit]]


@router.get("/agents/{agent_id}/runs/{run_id}", response_model=RunOut)
async def get_run(agent_id: str, run_id: str, rt: RuntimeDep, who: PrincipalDep) -> RunOut:
    """One run of the agent."""
    return run_out(await _agent_run(rt, who, agent_id, run_id))


@router.get("/agents/{agent_id}/runs/{run_id}/events", response_model=list[EventOut])
async def list_run_events(
    agent_id: str,
    run_id: str,
    rt: RuntimeDep,
    who: PrincipalDep,
    limit: Limit = 20,
    offset: Offset = 0,
) -> list[EventOut]:
    """The run's planning, reasoning and tool calls, in order."""
    await _agent_run(rt, who, agent_id, run_id)
    events = events_out(run_id, await _all_events(rt, who, run_id))
    return events[offset : offset + limit]


@router.get("/openapi.json")
async def openapi_document(request: Request) -> dict[str, Any]:
    """This dialect's OpenAPI document, with this server's URL."""
    return openapi(str(request.base_url).rstrip("/"))


def openapi(server_url: str) -> dict[str, Any]:
    """The OpenAPI document of the operations served here, errors in this dialect's model."""
    routes = []
    for route in router.routes:
        if isinstance(route, APIRoute) and route.name in _DOCUMENTED:
            route = copy.copy(route)
            route.include_in_schema = True
            routes.append(route)
    document = get_openapi(
        title="ag.dev v0.1 (runplane)",
        version="0.1",
        description="ag.dev's agents and runs over runplane (docs/dialects/agdev.md).",
        routes=routes,
        servers=[{"url": server_url}],
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    document["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in document["paths"].values():
        for method, operation in operations.items():
            operation["security"] = [{"bearer": []}, {"apiKey": []}]
            statuses = [400, 401, 404, 422, 429, 503] + ([409] if method == "post" else [])
            responses = operation["responses"]
            for status in sorted(statuses):
                responses[str(status)] = {"description": CODES[status], "content": error}
    return document


@router.api_route(
    "/{path:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    include_in_schema=False,
)
async def not_served(path: str, request: Request) -> Response:
    """Anything else under the prefix: a 404 in this dialect's model."""
    raise NotFound(
        f"ag.dev v0.1 has no {request.method} /{path} here",
        [{"name": "path", "value": f"/{path}"}],
    )
