"""A/B splits: an agent's new runs that name no revision, shared between two revisions.

Which of the two a run gets is decided by its id's hash, so it is reproducible and
needs no query: the agent row (cached per run, ``agents.agent_for_run``) holds the split.
"""

import hashlib

from runplane.domain.errors import Conflict, NotFound
from runplane.domain.json import JSONObject
from runplane.domain.models import AgentRecord, Principal, iso, utcnow
from runplane.domain.roles import Permission
from runplane.schemas.benchmarks import SplitConfig
from runplane.services import agents as agents_svc
from runplane.services import audit
from runplane.services.runtime import Runtime
from runplane.store import agents as store

# A run's place in [0, 100): the first 8 bytes of its id's SHA-256, scaled.
_SCALE = 100 / 2**64


def bucket(run_id: str) -> float:
    """Where a run id falls in [0, 100), the same every time."""
    digest = hashlib.sha256(run_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") * _SCALE


def split_revision(agent: AgentRecord, run_id: str) -> str | None:
    """The revision the agent's split gives this new run, or None when it has no split."""
    split = agent.get("split")
    if not split:
        return None
    percent_b = split.get("percent_b")
    share = float(percent_b) if isinstance(percent_b, int | float) else 0.0
    chosen = split["revision_b"] if bucket(run_id) < share else split["revision_a"]
    return str(chosen)


async def get_split(rt: Runtime, who: Principal, ref: str) -> tuple[AgentRecord, JSONObject]:
    """The agent and its split (404 when it has none)."""
    agent = await agents_svc.find_agent(rt, who, ref)
    split = agent.get("split")
    if not split:
        raise NotFound(
            f"agent {agent['name']!r} has no A/B split", [{"name": "agent_id", "value": ref}]
        )
    return agent, split


async def put_split(
    rt: Runtime, who: Principal, ref: str, body: SplitConfig
) -> tuple[AgentRecord, JSONObject]:
    """Split the agent's new runs between two runnable revisions (PUBLISH; audited)."""
    who.require(Permission.PUBLISH)
    agent = await agents_svc.find_agent(rt, who, ref)
    if body.revision_a == body.revision_b:
        raise Conflict(
            "an A/B split needs two different revisions",
            [{"name": "revision_b", "value": body.revision_b}],
        )
    for name, revision_id in (("revision_a", body.revision_a), ("revision_b", body.revision_b)):
        await _check_runnable(rt, agent, name, revision_id)
    split: JSONObject = {**body.model_dump(), "started_at": iso(utcnow())}
    async with rt.db.write() as conn:
        await store.update_agent(conn, agent["id"], split=split)
        await audit.record(conn, who, "agent.split_set", "agent", agent["id"], dict(split))
    rt.agent_cache.clear()
    return agent, split


async def delete_split(rt: Runtime, who: Principal, ref: str) -> None:
    """End the agent's split: new runs go to its published revision again (audited)."""
    who.require(Permission.PUBLISH)
    agent, split = await get_split(rt, who, ref)
    async with rt.db.write() as conn:
        await store.update_agent(conn, agent["id"], split=None)
        await audit.record(conn, who, "agent.split_removed", "agent", agent["id"], dict(split))
    rt.agent_cache.clear()


async def _check_runnable(rt: Runtime, agent: AgentRecord, field: str, revision_id: str) -> None:
    """404 for a revision the agent lacks; 409 for one this server cannot run (old code)."""
    try:
        await agents_svc.resolve_revision(rt, agent, revision_id)
    except NotFound:
        raise NotFound(
            f"agent {agent['name']!r} has no revision {revision_id!r}",
            [{"name": field, "value": revision_id}],
        ) from None
    except Conflict as exc:
        raise Conflict(
            f"{field} cannot run: {exc.message} (a code agent runs only the revision of "
            "its loaded code, so A/B splits are for step agents)",
            [{"name": field, "value": revision_id}],
        ) from None
