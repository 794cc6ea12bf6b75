"""Agents and revisions: code agents registered per tenant, step agents made by API, publishing."""

import time
from collections.abc import Mapping

from sqlalchemy.exc import IntegrityError

from runplane.agents import steps as step_agents
from runplane.agents.spec import AgentSpec
from runplane.domain.errors import Conflict, Invalid, NotFound
from runplane.domain.ids import new_id
from runplane.domain.json import JSONObject
from runplane.domain.models import AgentRecord, Principal, RevisionRecord, utcnow
from runplane.domain.roles import Permission
from runplane.schemas.steps import StepAgentDefinition
from runplane.services import audit
from runplane.services.project_benchmarks import ensure_project_benchmarks
from runplane.services.runtime import Runtime
from runplane.store import agents as store


async def ensure_code_agents(rt: Runtime, tenant_id: str) -> None:
    """Record the project's code agents (and new revisions) for a tenant, once per process."""
    if tenant_id in rt.synced_tenants:
        return
    for spec in rt.project.agents.values():
        try:
            await _sync_agent(rt, tenant_id, spec)
        except IntegrityError:
            # Another process registered it at the same moment: its rows are as good.
            await _sync_agent(rt, tenant_id, spec)
    if rt.project.benchmarks:
        await ensure_project_benchmarks(rt.db, rt.project.benchmarks, tenant_id)
    rt.synced_tenants.add(tenant_id)


async def _sync_agent(rt: Runtime, tenant_id: str, spec: AgentSpec) -> None:
    digest, config, now = spec.content_hash(), spec.config(), utcnow()
    async with rt.db.write() as conn:
        row = await store.find_agent(conn, tenant_id, spec.name)
        if row is None:
            agent_id = new_id("agt")
            await store.insert_agent(
                conn,
                id=agent_id,
                tenant_id=tenant_id,
                name=spec.name,
                kind=spec.kind,
                description=spec.description,
                config=config,
                created_at=now,
                updated_at=now,
            )
        elif row["kind"] == "steps":
            return  # a step agent of the tenant's took the name first: it stays theirs
        else:
            agent_id = row["id"]
            if row["config"] != config or row["description"] != spec.description:
                await store.update_agent(
                    conn, agent_id, config=config, description=spec.description, updated_at=now
                )
        rev = await store.find_revision_by_hash(conn, agent_id, digest)
        if rev is None:
            rev_id = new_id("rev")
            await store.insert_revision(
                conn,
                id=rev_id,
                tenant_id=tenant_id,
                agent_id=agent_id,
                hash=digest,
                stage="draft",
                config=config,
                created_at=now,
            )
            if rt.project.publish == "auto":
                await store.publish_revision(conn, agent_id, rev_id, now)
        elif rt.project.publish == "auto" and (
            row is None or row["published_revision_id"] != rev["id"]
        ):
            # The code went back to an earlier revision: that is the one running now.
            await store.publish_revision(conn, agent_id, rev["id"], now)


AGENT_CACHE_SECONDS = 2.0


async def find_agent(rt: Runtime, who: Principal, ref: str) -> AgentRecord:
    """The agent named by id or name, or NotFound."""
    await ensure_code_agents(rt, who.tenant_id)
    async with rt.db.read() as conn:
        row = await store.find_agent(conn, who.tenant_id, ref)
    if row is None:
        raise NotFound(f"no agent {ref!r}", [{"name": "agent_id", "value": ref}])
    return row


async def agent_for_run(rt: Runtime, who: Principal, ref: str) -> AgentRecord:
    """The agent a new run names, cached for AGENT_CACHE_SECONDS (it is read per run).

    A publish in this process shows at once; one in another process within that time.
    """
    key = (who.tenant_id, ref)
    hit = rt.agent_cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    row = await find_agent(rt, who, ref)
    if len(rt.agent_cache) >= REVISION_CACHE_SIZE:
        rt.agent_cache.clear()
    rt.agent_cache[key] = (time.monotonic() + AGENT_CACHE_SECONDS, row)
    return row


async def list_agents(rt: Runtime, who: Principal) -> list[AgentRecord]:
    """Every agent of the tenant."""
    await ensure_code_agents(rt, who.tenant_id)
    async with rt.db.read() as conn:
        return await store.list_agents(conn, who.tenant_id)


async def list_revisions(rt: Runtime, who: Principal, ref: str) -> list[RevisionRecord]:
    """An agent's revisions, newest first."""
    agent = await find_agent(rt, who, ref)
    async with rt.db.read() as conn:
        return await store.list_revisions(conn, agent["id"])


async def publish(
    rt: Runtime, who: Principal, ref: str, revision_id: str, activity: JSONObject | None = None
) -> RevisionRecord:
    """Make a revision the one new runs use (PUBLISH); ``activity`` adds to its activity row.

    Publishing through the replay gate is ``services.gate.publish``.
    """
    who.require(Permission.PUBLISH)
    agent = await find_agent(rt, who, ref)
    async with rt.db.write() as conn:
        rev = await store.find_revision(conn, agent["id"], revision_id)
        if rev is None:
            raise NotFound(
                f"agent {agent['name']!r} has no revision {revision_id!r}",
                [{"name": "revision_id", "value": revision_id}],
            )
        await store.publish_revision(conn, agent["id"], revision_id, utcnow())
        if agent["kind"] == "steps":
            # A step agent shows its published definition (schemas, description).
            await store.update_agent(
                conn,
                agent["id"],
                config=rev["config"],
                description=rev["config"].get("description"),
            )
        noted: JSONObject = {"revision_id": revision_id, **(activity or {})}
        await audit.record(conn, who, "revision.published", "agent", agent["id"], noted)
        rt.agent_cache.clear()
        published = await store.find_revision(conn, agent["id"], revision_id)
    assert published is not None
    return published


async def get_revision(rt: Runtime, who: Principal, ref: str, revision_id: str) -> RevisionRecord:
    """One revision of an agent, or NotFound."""
    agent = await find_agent(rt, who, ref)
    async with rt.db.read() as conn:
        rev = await store.find_revision(conn, agent["id"], revision_id)
    if rev is None:
        raise NotFound(
            f"agent {agent['name']!r} has no revision {revision_id!r}",
            [{"name": "revision_id", "value": revision_id}],
        )
    return rev


async def _checked_config(
    rt: Runtime, who: Principal, definition: Mapping[str, object] | StepAgentDefinition
) -> tuple[StepAgentDefinition, JSONObject]:
    parsed = step_agents.parse_definition(definition)
    known = await rt.hooks.models.knows(who.tenant_id)
    return parsed, step_agents.check_definition(parsed, rt.project.tools, is_known_model=known)


async def create_step_agent(
    rt: Runtime, who: Principal, definition: Mapping[str, object] | StepAgentDefinition
) -> tuple[AgentRecord, RevisionRecord]:
    """Create a step agent and its first revision, a draft (PUBLISH; 409 if the name is taken)."""
    who.require(Permission.PUBLISH)
    parsed, config = await _checked_config(rt, who, definition)
    await ensure_code_agents(rt, who.tenant_id)
    if rt.project.get(parsed.name) is not None:
        raise Conflict(
            f"{parsed.name!r} is the name of an agent in this server's code",
            [{"name": "name", "value": parsed.name}],
        )
    now, agent_id, rev_id = utcnow(), new_id("agt"), new_id("rev")
    try:
        async with rt.db.write() as conn:
            if await store.find_agent(conn, who.tenant_id, parsed.name) is not None:
                raise _NameTaken
            await store.insert_agent(
                conn,
                id=agent_id,
                tenant_id=who.tenant_id,
                name=parsed.name,
                kind="steps",
                description=parsed.description,
                config=config,
                created_at=now,
                updated_at=now,
            )
            await store.insert_revision(
                conn,
                id=rev_id,
                tenant_id=who.tenant_id,
                agent_id=agent_id,
                hash=step_agents.config_hash(config),
                stage="draft",
                config=config,
                created_at=now,
            )
            await audit.record(
                conn, who, "agent.created", "agent", agent_id, {"revision_id": rev_id}
            )
            agent = await store.find_agent(conn, who.tenant_id, agent_id)
            rev = await store.find_revision(conn, agent_id, rev_id)
    except (_NameTaken, IntegrityError):
        raise Conflict(
            f"the tenant already has an agent named {parsed.name!r}; add a revision to it",
            [{"name": "name", "value": parsed.name}],
        ) from None
    assert agent is not None and rev is not None
    return agent, rev


class _NameTaken(Exception):
    """The agent's name is taken: roll the create back."""


async def revise_step_agent(
    rt: Runtime, who: Principal, ref: str, definition: Mapping[str, object] | StepAgentDefinition
) -> RevisionRecord:
    """A new draft revision of a step agent (PUBLISH); the same definition gives the same one."""
    who.require(Permission.PUBLISH)
    agent = await find_agent(rt, who, ref)
    if agent["kind"] != "steps":
        raise Conflict(
            f"agent {agent['name']!r} is {agent['kind']} code: its revisions come from its code",
            [{"name": "agent_id", "value": ref}],
        )
    parsed, config = await _checked_config(rt, who, definition)
    if parsed.name != agent["name"]:
        raise Invalid.field(
            "name", f"the definition names {parsed.name!r}, not {agent['name']!r}", parsed.name
        )
    digest, now = step_agents.config_hash(config), utcnow()
    try:
        async with rt.db.write() as conn:
            rev = await store.find_revision_by_hash(conn, agent["id"], digest)
            if rev is not None:
                return rev
            rev_id = new_id("rev")
            await store.insert_revision(
                conn,
                id=rev_id,
                tenant_id=who.tenant_id,
                agent_id=agent["id"],
                hash=digest,
                stage="draft",
                config=config,
                created_at=now,
            )
            if agent["published_revision_id"] is None:
                # Until one is published, the agent shows its latest draft.
                await store.update_agent(
                    conn, agent["id"], config=config, description=parsed.description, updated_at=now
                )
            await audit.record(
                conn, who, "revision.created", "agent", agent["id"], {"revision_id": rev_id}
            )
            made = await store.find_revision(conn, agent["id"], rev_id)
    except IntegrityError:
        # The same definition, saved at the same moment by another request.
        async with rt.db.read() as conn:
            made = await store.find_revision_by_hash(conn, agent["id"], digest)
    assert made is not None
    return made


REVISION_CACHE_SIZE = 1024


async def revision_content(rt: Runtime, agent_id: str, revision_id: str) -> RevisionRecord | None:
    """A revision's immutable part (id, hash, config), cached: it never changes.

    Its ``stage`` may be stale; read the revision itself where that matters.
    """
    key = (agent_id, revision_id)
    rev = rt.revision_cache.get(key)
    if rev is None:
        async with rt.db.read() as conn:
            rev = await store.find_revision(conn, agent_id, revision_id)
        if rev is None:
            return None
        if len(rt.revision_cache) >= REVISION_CACHE_SIZE:
            rt.revision_cache.clear()
        rt.revision_cache[key] = rev
    return rev


async def resolve_revision(
    rt: Runtime, agent: AgentRecord, revision_id: str | None
) -> RevisionRecord:
    """The revision a new run uses: the named one, else the published one (409 if none)."""
    if revision_id is not None:
        rev = await revision_content(rt, agent["id"], revision_id)
        if rev is None:
            raise NotFound(
                f"agent {agent['name']!r} has no revision {revision_id!r}",
                [{"name": "revision_id", "value": revision_id}],
            )
    elif agent["published_revision_id"] is None:
        raise Conflict(
            f"agent {agent['name']!r} has no published revision; publish one first",
            [{"name": "agent_id", "value": agent["name"]}],
        )
    else:
        rev = await revision_content(rt, agent["id"], agent["published_revision_id"])
    assert rev is not None
    spec = rt.project.get(agent["name"])
    if agent["kind"] == "steps" and spec is not None:
        raise Conflict(
            f"step agent {agent['name']!r} has the name of an agent in this server's code; "
            "its runs cannot start until one of them is renamed",
            [{"name": "agent_id", "value": agent["name"]}],
        )
    if agent["kind"] == "python" and (spec is None or spec.content_hash() != rev["hash"]):
        raise Conflict(
            f"revision {rev['id']} of {agent['name']!r} is not the code this server runs",
            [{"name": "revision_id", "value": rev["id"]}],
        )
    return rev
