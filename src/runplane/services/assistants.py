"""Assistants: configurations of a hosted graph, versioned, over runplane agents.

A graph is a runplane agent of kind ``langgraph``; each of its assistants records
the agent's published revision in every version it makes. Every graph has a default
assistant per tenant, whose id is stable and whose name is the graph's.
"""

import time
import uuid
from typing import Literal

from sqlalchemy.exc import IntegrityError

from runplane.domain.errors import Conflict, Invalid, NotFound
from runplane.domain.json import JSONObject
from runplane.domain.models import (
    AgentRecord,
    AssistantRecord,
    AssistantVersionRecord,
    Principal,
    utcnow,
)
from runplane.domain.roles import Permission
from runplane.schemas.agent_protocol import (
    AssistantCreate,
    AssistantPatch,
    AssistantSearch,
    matches,
    ts,
)
from runplane.services import agents as agents_svc
from runplane.services.runtime import Runtime
from runplane.store import graphs as store

# Assistants are read per run: a change in this process shows at once, elsewhere
# within this many seconds.
CACHE_SECONDS = 2.0
_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
# What a search may sort by, and the column that holds it.
_SORTS: dict[str, Literal["id", "graph_id", "name", "created_at", "updated_at"]] = {
    "assistant_id": "id",
    "graph_id": "graph_id",
    "name": "name",
    "created_at": "created_at",
    "updated_at": "updated_at",
}


class VersionView(AssistantVersionRecord):
    """A version of an assistant, with the graph the assistant is of."""

    graph_id: str


def default_id(tenant_id: str, graph_id: str) -> str:
    """The id of a graph's default assistant in a tenant."""
    return str(uuid.uuid5(_NAMESPACE, f"{tenant_id}/{graph_id}"))


async def _ensure_defaults(rt: Runtime, who: Principal) -> None:
    done: set[str] = rt.graphs.assistant_tenants
    if who.tenant_id in done:
        return
    for graph_id in rt.project.graphs:
        async with rt.db.read() as conn:
            found = await store.get_assistant(
                conn, who.tenant_id, default_id(who.tenant_id, graph_id)
            )
        if found is None:
            body = AssistantCreate(
                graph_id=graph_id,
                assistant_id=default_id(who.tenant_id, graph_id),
                name=graph_id,
                metadata={"created_by": "system"},
                if_exists="do_nothing",
            )
            await _create(rt, who, body)
    done.add(who.tenant_id)


async def _graph_agent(rt: Runtime, who: Principal, graph_id: str) -> AgentRecord:
    if graph_id not in rt.project.graphs:
        raise NotFound(f"no graph {graph_id!r}", [{"name": "graph_id", "value": graph_id}])
    return await agents_svc.agent_for_run(rt, who, graph_id)


async def create(rt: Runtime, who: Principal, body: AssistantCreate) -> AssistantRecord:
    """Create an assistant (version 1) for a graph."""
    who.require(Permission.CREATE_RUNS)
    return await _create(rt, who, body)


async def _create(rt: Runtime, who: Principal, body: AssistantCreate) -> AssistantRecord:
    agent = await _graph_agent(rt, who, body.graph_id)
    assistant_id = body.assistant_id or str(uuid.uuid4())
    _check_uuid(assistant_id, "assistant_id")
    async with rt.db.read() as conn:
        existing = await store.get_assistant(conn, who.tenant_id, assistant_id)
    if existing is not None:
        if body.if_exists == "do_nothing":
            return existing
        raise Conflict(
            f"assistant {assistant_id} exists", [{"name": "assistant_id", "value": assistant_id}]
        )
    now = utcnow()
    row: AssistantRecord = {
        "id": assistant_id,
        "tenant_id": who.tenant_id,
        "graph_id": body.graph_id,
        "agent_id": agent["id"],
        "name": body.name or "Untitled",
        "description": body.description,
        "config": body.config,
        "context": body.context,
        "metadata": body.metadata,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    try:
        async with rt.db.write() as conn:
            await store.insert_assistant(conn, row, agent["published_revision_id"] or "")
    except IntegrityError:
        async with rt.db.read() as conn:
            again = await store.get_assistant(conn, who.tenant_id, assistant_id)
        if again is None or body.if_exists != "do_nothing":
            raise Conflict(f"assistant {assistant_id} exists") from None
        return again
    return row


def _check_uuid(value: str, name: str) -> None:
    try:
        uuid.UUID(value)
    except ValueError:
        raise Invalid.field(name, f"{name} must be a UUID", value) from None


async def get(rt: Runtime, who: Principal, ref: str) -> AssistantRecord:
    """An assistant by id, or a graph's default assistant by the graph's name."""
    cache = rt.graphs.assistant_cache
    hit = cache.get((who.tenant_id, ref))
    if hit is not None and hit[0] > time.monotonic():
        cached: AssistantRecord = hit[1]
        return cached
    row = await _read(rt, who, ref)
    if len(cache) > 1000:
        cache.clear()
    cache[(who.tenant_id, ref)] = (time.monotonic() + CACHE_SECONDS, row)
    return row


def _forget(rt: Runtime) -> None:
    rt.graphs.assistant_cache.clear()


async def _read(rt: Runtime, who: Principal, ref: str) -> AssistantRecord:
    await _ensure_defaults(rt, who)
    assistant_id = default_id(who.tenant_id, ref) if ref in rt.project.graphs else ref
    async with rt.db.read() as conn:
        row = await store.get_assistant(conn, who.tenant_id, assistant_id)
    if row is None:
        raise NotFound(f"no assistant {ref!r}", [{"name": "assistant_id", "value": ref}])
    return row


async def update(rt: Runtime, who: Principal, ref: str, body: AssistantPatch) -> AssistantRecord:
    """Make a new version with the given fields changed; it becomes the current one."""
    who.require(Permission.CREATE_RUNS)
    row: AssistantRecord = {**await get(rt, who, ref)}
    if body.graph_id is not None and body.graph_id != row["graph_id"]:
        agent = await _graph_agent(rt, who, body.graph_id)
        row["graph_id"], row["agent_id"] = body.graph_id, agent["id"]
    if body.config is not None:
        row["config"] = body.config
    if body.context is not None:
        row["context"] = body.context
    if body.metadata is not None:
        row["metadata"] = {**row["metadata"], **body.metadata}
    if body.name is not None:
        row["name"] = body.name
    if body.description is not None:
        row["description"] = body.description
    agent = await _graph_agent(rt, who, row["graph_id"])
    async with rt.db.write() as conn:
        row["version"] = await store.max_version(conn, who.tenant_id, row["id"]) + 1
        row["updated_at"] = utcnow()
        await store.insert_version(conn, row, agent["published_revision_id"] or "")
        await store.update_assistant(
            conn,
            who.tenant_id,
            row["id"],
            graph_id=row["graph_id"],
            agent_id=row["agent_id"],
            name=row["name"],
            description=row["description"],
            config=row["config"],
            context=row["context"],
            metadata=row["metadata"],
            version=row["version"],
            updated_at=row["updated_at"],
        )
    _forget(rt)
    return row


async def delete(rt: Runtime, who: Principal, ref: str) -> None:
    """Delete an assistant and its versions."""
    who.require(Permission.DELETE)
    row = await get(rt, who, ref)
    async with rt.db.write() as conn:
        await store.delete_assistant(conn, who.tenant_id, row["id"])
    _forget(rt)


async def search(rt: Runtime, who: Principal, body: AssistantSearch) -> list[AssistantRecord]:
    """Assistants matching graph, name and metadata."""
    await _ensure_defaults(rt, who)
    async with rt.db.read() as conn:
        rows = await store.list_assistants(conn, who.tenant_id, body.graph_id)
    found = [
        r
        for r in rows
        if matches(r["metadata"], body.metadata)
        and (body.name is None or body.name.lower() in r["name"].lower())
    ]
    column = _SORTS.get(body.sort_by or "", "created_at")
    found.sort(key=lambda r: r[column], reverse=(body.sort_order or "desc") == "desc")
    return found


async def versions(
    rt: Runtime, who: Principal, ref: str, metadata: JSONObject | None
) -> list[VersionView]:
    """An assistant's versions, newest first."""
    row = await get(rt, who, ref)
    async with rt.db.read() as conn:
        rows = await store.list_versions(conn, who.tenant_id, row["id"])
    return [{**v, "graph_id": row["graph_id"]} for v in rows if matches(v["metadata"], metadata)]


async def set_latest(rt: Runtime, who: Principal, ref: str, version: int) -> AssistantRecord:
    """Make an earlier version the current one again."""
    who.require(Permission.CREATE_RUNS)
    row = await get(rt, who, ref)
    async with rt.db.read() as conn:
        found = [
            v
            for v in await store.list_versions(conn, who.tenant_id, row["id"])
            if v["version"] == version
        ]
    if not found:
        raise NotFound(
            f"assistant {row['id']} has no version {version}",
            [{"name": "version", "value": version}],
        )
    v = found[0]
    async with rt.db.write() as conn:
        await store.update_assistant(
            conn,
            who.tenant_id,
            row["id"],
            version=version,
            updated_at=utcnow(),
            name=v["name"],
            description=v["description"],
            config=v["config"],
            context=v["context"],
            metadata=v["metadata"],
        )
    _forget(rt)
    return await get(rt, who, row["id"])


def assistant_json(row: AssistantRecord, who: Principal) -> JSONObject:
    """An assistant as the protocol shows it; its hidden ``context`` to admin keys only."""
    return {
        "assistant_id": row["id"],
        "graph_id": row["graph_id"],
        "config": row["config"],
        "context": row["context"] if who.can(Permission.SEE_CONTEXT) else {},
        "metadata": row["metadata"],
        "version": row["version"],
        "name": row["name"],
        "description": row["description"],
        "created_at": ts(row["created_at"]),
        "updated_at": ts(row["updated_at"]),
    }


def version_json(row: VersionView, who: Principal) -> JSONObject:
    """One version of an assistant; its hidden ``context`` to admin keys only."""
    return {
        "assistant_id": row["assistant_id"],
        "graph_id": row["graph_id"],
        "config": row["config"],
        "context": row["context"] if who.can(Permission.SEE_CONTEXT) else {},
        "metadata": row["metadata"],
        "version": row["version"],
        "name": row["name"],
        "description": row["description"],
        "created_at": ts(row["created_at"]),
    }


async def graph_json(rt: Runtime, who: Principal, ref: str, xray: bool | int = False) -> JSONObject:
    """The drawable graph of an assistant (nodes and edges)."""
    row = await get(rt, who, ref)
    graph = await rt.project.graphs[row["graph_id"]].build(row["config"])
    drawable = await graph.aget_graph(config=row["config"], xray=xray)
    drawn: JSONObject = drawable.to_json()
    return drawn


async def schemas_json(rt: Runtime, who: Principal, ref: str) -> JSONObject:
    """The graph's input, output, state, config and context JSON Schemas."""
    row = await get(rt, who, ref)
    graph = await rt.project.graphs[row["graph_id"]].build(row["config"])

    def schema(fn: str) -> JSONObject | None:
        try:
            found: JSONObject = getattr(graph, fn)()
        except Exception:  # a graph whose types pydantic cannot express
            return None
        return found

    context = None
    if getattr(graph, "context_schema", None) is not None:
        context = schema("get_context_jsonschema")
    return {
        "graph_id": row["graph_id"],
        "input_schema": schema("get_input_jsonschema"),
        "output_schema": schema("get_output_jsonschema"),
        "state_schema": schema("get_input_jsonschema"),
        "config_schema": schema("get_config_jsonschema"),
        "context_schema": context,
    }


async def subgraphs_json(
    rt: Runtime, who: Principal, ref: str, namespace: str | None, recurse: bool
) -> JSONObject:
    """The schemas of the graph's subgraphs, by namespace."""
    row = await get(rt, who, ref)
    graph = await rt.project.graphs[row["graph_id"]].build(row["config"])
    out: JSONObject = {}
    async for ns, sub in graph.aget_subgraphs(namespace=namespace, recurse=recurse):
        out[ns] = {
            "graph_id": row["graph_id"],
            "input_schema": sub.get_input_jsonschema(),
            "output_schema": sub.get_output_jsonschema(),
            "state_schema": sub.get_input_jsonschema(),
            "config_schema": sub.get_config_jsonschema(),
            "context_schema": None,
        }
    return out
