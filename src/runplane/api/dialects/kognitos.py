"""Kognitos REST API v2 runs, at ``/kognitos/v2`` (docs/dialects/kognitos.md).

A Kognitos *agent* is the runplane tenant (the scope of an API key); its id is the
tenant id's 26 characters. A Kognitos *process* is a runplane agent; its id is the
agent id's 26 characters (its name is accepted too). ``Draft`` runs the agent's newest
revision, ``Published`` its published one. Runs keep their own id's 26 characters.
"""

import copy
import json
import re
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.api.dialects._route import dialect_route
from runplane.domain.errors import NotFound
from runplane.domain.ids import from_short_form, short_form
from runplane.domain.models import AgentRecord, Principal, RunRecord
from runplane.schemas import RunCreate
from runplane.schemas.storable import check_storable
from runplane.services import agents as agents_svc
from runplane.services import runs as runs_svc
from runplane.services.runtime import Runtime

PREFIX = "/kognitos/v2"
ID_PATTERN = r"^[a-zA-Z0-9-_]+$"
# Where a run started here keeps what the native run has no column for.
STAGE_KEY = "kognitos_stage"
FILE_IDS_KEY = "kognitos_file_ids"
STATUSES = {
    "queued": "Created",
    "running": "Running",
    "paused": "Running",
    "auth_required": "Running",
    "succeeded": "Succeeded",
    "failed": "Exception",
    "canceled": "Stopped",
}
# How many reads one page filtered by stage may take before it answers with what it found
# (and a token to go on): the stage is no column, so the filter reads runs and skips some.
STAGE_SCAN_READS = 20

Stage = Literal["Draft", "Published"]
RunStatus = Literal["Created", "Running", "Exception", "Stopped", "Succeeded"]
Id = Annotated[str, Field(min_length=1, max_length=26, pattern=ID_PATTERN)]
Text100 = Annotated[str, Field(min_length=1, max_length=100)]


def _scalar(value: object) -> object:
    """The document's anyOf string, integer, number: a boolean or a null is none of them."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("a value is a string, an integer or a number")
    return value


Value = Annotated[str | int | float, BeforeValidator(_scalar)]


def render(
    status: int, message: str, details: list[dict[str, Any]], headers: dict[str, str] | None
) -> Response:
    """An error as the document's ``ErrorModel`` (a detail's value is a string or a number)."""
    body = {
        "status_code": status,
        "message": message,
        "details": [{"name": str(d["name"]), "value": _detail_value(d["value"])} for d in details],
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _detail_value(value: object) -> str | int | float:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


# runplane's 422 (a request that breaks a rule) and 409 (a process whose state does not
# allow the run) are the document's 400, "Invalid input values".
router = APIRouter(
    prefix=PREFIX,
    tags=["kognitos"],
    route_class=dialect_route(render, {422: 400, 409: 400}, prefix=PREFIX),
)


class _Request(BaseModel):
    # The document's patterns are ECMA/Python regular expressions; extra fields are allowed
    # (and dropped, so only what is kept must be storable).
    model_config = ConfigDict(regex_engine="python-re")

    @model_validator(mode="after")
    def _storable(self) -> Self:
        check_storable(self.model_dump(), "body")
        return self


class RunInput(_Request):
    """An input of the process: the name of a field of its input, and its value."""

    name: Text100
    value: Value


class CreateRunRequest(_Request):
    """The body of ``POST /runs``."""

    name: Text100
    process_id: Id
    agent_id: Id
    stage: Stage
    inputs: list[RunInput] | None = None
    file_ids: list[str] | None = None


class RunOutput(BaseModel):
    """An output of the run: a key of its JSON result, or ``result`` for a document."""

    name: Text100
    value: Value


class RunResource(BaseModel):
    """A run as Kognitos shows it."""

    agent_id: Id
    process_id: Id
    stage: Stage
    status: RunStatus
    created_at: datetime
    id: Id
    name: Text100
    file_ids: list[str] | None = None
    outputs: list[RunOutput] | None = None


class ListResponse(BaseModel):
    """A page of a list; pass ``continuation_token`` back for the next one."""

    items: list[Any] | None
    continuation_token: str | None


class ProcessResource(BaseModel):
    """A process (a runplane agent) of the agent (the tenant)."""

    agent_id: Id
    id: Id
    name: str
    stage: Stage


class Health(BaseModel):
    """The server answers."""

    status: Literal["OK"] = "OK"


# -- the document --------------------------------------------------------------------


@cache
def _document() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("kognitos_openapi.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@router.get("/openapi.json", include_in_schema=False)
async def openapi_document(request: Request) -> dict[str, Any]:
    """The seed's OpenAPI document, with this server as its only server."""
    document = copy.deepcopy(_document())
    base = str(request.base_url).rstrip("/")
    document["servers"] = [{"description": "runplane", "url": base + PREFIX}]
    return document


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Whether the server answers (no key needed)."""
    return Health()


# -- runs ------------------------------------------------------------------------------


@router.post("/runs", status_code=201, response_model=RunResource)
async def create_run(body: CreateRunRequest, rt: RuntimeDep, who: PrincipalDep) -> RunResource:
    """Start a run of the process at the stage asked for."""
    _check_agent(who, body.agent_id)
    process = await _process(rt, who, body.process_id, cached=True)
    revision_id = await _revision_for(rt, who, process, body.stage, body.process_id)
    metadata: dict[str, Any] = {STAGE_KEY: body.stage}
    if body.file_ids is not None:
        metadata[FILE_IDS_KEY] = body.file_ids
    native = RunCreate(
        agent_id=process["id"],
        revision_id=revision_id,
        name=body.name,
        input=_input(body.inputs),
        metadata=metadata,
    )
    return run_resource(await runs_svc.create_run(rt, who, native))


@router.get("/runs", response_model=ListResponse)
async def list_runs(
    rt: RuntimeDep,
    who: PrincipalDep,
    process_id: str,
    agent_id: str,
    limit: Annotated[int | None, Query(le=100)] = 10,
    stage: Stage | None = None,
    continuation_token: Annotated[str | None, Query(max_length=500)] = None,
) -> ListResponse:
    """The process's runs, newest first; a limit below 1 reads as 1."""
    _check_agent(who, agent_id)
    process = await _process(rt, who, process_id, cached=False)
    size = max(1, limit if limit is not None else 10)
    rows, token = await _runs_page(rt, who, process, stage, size, continuation_token)
    return ListResponse(items=[run_resource(r) for r in rows], continuation_token=token)


@router.get("/runs/{run_id}", response_model=RunResource)
async def get_run(run_id: str, rt: RuntimeDep, who: PrincipalDep) -> RunResource:
    """One run, by the 26 characters of its runplane id."""
    full = from_short_form(run_id, "run")
    not_found = NotFound("run not found", [{"name": "run_id", "value": run_id}])
    if full is None:
        raise not_found
    try:
        row = await runs_svc.get_run(rt, who, full)
    except NotFound:
        raise not_found from None
    return run_resource(row)


# -- processes (outside the seed: Kognitos's /v2/processes) -----------------------------


@router.get("/processes", response_model=ListResponse)
async def list_processes(
    rt: RuntimeDep,
    who: PrincipalDep,
    agent_id: str | None = None,
    limit: Annotated[int | None, Query(le=100)] = 10,
    continuation_token: Annotated[str | None, Query(max_length=500)] = None,
) -> ListResponse:
    """The agent's processes by name; ``agent_id`` may be left out (a key has one agent)."""
    if agent_id is not None:
        _check_agent(who, agent_id)
    size = max(1, limit if limit is not None else 10)
    rows = [
        a
        for a in await agents_svc.list_agents(rt, who)
        if continuation_token is None or a["name"] > continuation_token
    ]
    page = rows[:size]
    token = page[-1]["name"] if len(rows) > size else None
    return ListResponse(items=[process_resource(who, a) for a in page], continuation_token=token)


@router.get("/processes/{process_id}", response_model=ProcessResource)
async def get_process(
    process_id: str, rt: RuntimeDep, who: PrincipalDep, agent_id: str | None = None
) -> ProcessResource:
    """One process, by the 26 characters of its agent id, or by its name."""
    if agent_id is not None:
        _check_agent(who, agent_id)
    return process_resource(who, await _process(rt, who, process_id, cached=False))


# -- translation -------------------------------------------------------------------------


def agent_id_of(who: Principal) -> str:
    """The Kognitos agent id of the key's tenant."""
    short = short_form(who.tenant_id, "ten")
    assert short is not None
    return short


def _check_agent(who: Principal, agent_id: str) -> None:
    """Refuse an agent that is not the key's own (404, as for any unknown agent)."""
    if from_short_form(agent_id, "ten") != who.tenant_id:
        raise NotFound("agent not found", [{"name": "agent_id", "value": agent_id}])


async def _process(rt: Runtime, who: Principal, process_id: str, *, cached: bool) -> AgentRecord:
    """The runplane agent a process id names: its id's 26 characters, or its name."""
    find = agents_svc.agent_for_run if cached else agents_svc.find_agent
    refs = [from_short_form(process_id, "agt")]
    if len(process_id) <= 26 and re.search(ID_PATTERN, process_id):
        refs.append(process_id)
    for ref in filter(None, refs):
        try:
            return await find(rt, who, ref)
        except NotFound:
            continue
    raise NotFound("process not found", [{"name": "process_id", "value": process_id}])


async def _revision_for(
    rt: Runtime, who: Principal, process: AgentRecord, stage: Stage, process_id: str
) -> str | None:
    """The revision a run at ``stage`` uses (None: the published one, as runplane picks it)."""
    if stage == "Published":
        if process["published_revision_id"] is None:
            raise NotFound(
                f"process {process_id!r} has no Published stage: publish a revision first",
                [{"name": "stage", "value": stage}],
            )
        return None
    revisions = await agents_svc.list_revisions(rt, who, process["id"])
    return revisions[0]["id"] if revisions else None


def _input(inputs: list[RunInput] | None) -> dict[str, Any]:
    """The run's input object, one field per input (of a name given twice, the last)."""
    return {item.name: item.value for item in inputs or []}


async def _runs_page(
    rt: Runtime,
    who: Principal,
    process: AgentRecord,
    stage: Stage | None,
    size: int,
    token: str | None,
) -> tuple[list[RunRecord], str | None]:
    """A page of the process's runs at ``stage``, newest first, and the token that follows."""
    found: list[RunRecord] = []
    for _ in range(STAGE_SCAN_READS):
        # Never more than the page still needs: the token then follows the last row read.
        rows, token = await runs_svc.list_runs(
            rt,
            who,
            agent_id=process["id"],
            status=None,
            q=None,
            archived=False,
            trigger=None,
            parent_run_id=None,
            limit=size - len(found),
            continuation_token=token,
        )
        found.extend(r for r in rows if stage is None or stage_of(r) == stage)
        if token is None or len(found) == size:
            break
    return found, token


def stage_of(row: RunRecord) -> Stage:
    """The stage a run was started at; a run started elsewhere ran the published revision
    unless it named one, and is shown as ``Published``."""
    recorded = (row["metadata"] or {}).get(STAGE_KEY)
    return "Draft" if recorded == "Draft" else "Published"


def run_resource(row: RunRecord) -> RunResource:
    """A runplane run as a Kognitos ``RunResource`` (nothing of its hidden context)."""
    file_ids = (row["metadata"] or {}).get(FILE_IDS_KEY)
    created = row["created_at"]
    return RunResource(
        agent_id=short_form(row["tenant_id"], "ten") or "",
        process_id=short_form(row["agent_id"], "agt") or "",
        stage=stage_of(row),
        status=STATUSES[row["status"]],  # type: ignore[arg-type]
        created_at=created if created.tzinfo else created.replace(tzinfo=UTC),
        id=short_form(row["id"], "run") or "",
        name=(row["name"] or row["agent_name"])[:100],
        file_ids=_strings(file_ids),
        outputs=outputs(row["result"]),
    )


def _strings(value: object) -> list[str] | None:
    """A list of strings as it is; anything else (a native run's own metadata) as None."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    return None


def outputs(result: Any) -> list[RunOutput] | None:
    """A result as outputs: one per key of a JSON object, else one named ``result``."""
    if result is None:
        return None
    content = result.get("content")
    if result.get("type") == "json" and isinstance(content, dict):
        return [RunOutput(name=_output_name(k), value=_output_value(v)) for k, v in content.items()]
    return [RunOutput(name="result", value=_output_value(content))]


def _output_name(key: str) -> str:
    return key[:100] or "result"


def _output_value(value: Any) -> str | int | float:
    """Strings and numbers as they are; anything else as its JSON text."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return value
    return json.dumps(value, ensure_ascii=False)


def process_resource(who: Principal, agent: AgentRecord) -> ProcessResource:
    """A runplane agent as a Kognitos process; ``Published`` once it has a published revision."""
    return ProcessResource(
        agent_id=agent_id_of(who),
        id=short_form(agent["id"], "agt") or "",
        name=agent["name"],
        stage="Published" if agent["published_revision_id"] else "Draft",
    )
