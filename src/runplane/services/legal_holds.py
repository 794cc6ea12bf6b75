"""Legal holds: made and released by admins (audited); ``held_by`` answers "is it held?".

A held run cannot be deleted, by a key or by the retention sweep. What holds a run: an
active hold row (on the run, its agent, or a query it matches), a standing hold of the
policy in force (for ``keep_days`` from the run's creation), or a hold on one of its files.
"""

from datetime import datetime
from typing import Any

from runplane.domain.errors import Conflict, Invalid, NotFound
from runplane.domain.holds import Hold, RunFacts, aware, holds_on
from runplane.domain.ids import new_id
from runplane.domain.json import JSONObject
from runplane.domain.models import Principal, RunRecord, utcnow
from runplane.domain.roles import Permission
from runplane.schemas.governance import GovernancePolicy, HoldCreate
from runplane.services import agents as agents_svc
from runplane.services import audit
from runplane.services import runs as runs_svc
from runplane.services.governance_policy import policy_in_force
from runplane.services.runtime import Runtime
from runplane.store import files as files_store
from runplane.store import legal_holds as store
from runplane.store.db import Conn
from runplane.store.runs import decode_token, page_of

HoldRow = dict[str, Any]


def facts(run: RunRecord) -> RunFacts:
    """What a hold matches of a run's row."""
    return RunFacts(run["id"], run["agent_id"], run["status"], run["created_at"])


def standing(policy: GovernancePolicy) -> list[JSONObject]:
    """The policy's standing holds as plain values."""
    return [h.model_dump(mode="json") for h in policy.holds]


async def held_by(conn: Conn, tenant_id: str, run: RunRecord) -> list[Hold]:
    """Every hold that keeps this run now (empty: it is not held)."""
    rows = await store.active(conn, tenant_id)
    _, policy = await policy_in_force(conn, tenant_id)
    found = holds_on(rows, standing(policy), facts(run), utcnow())
    for f in await files_store.of_runs(conn, tenant_id, [run["id"]]):
        if f.get("hold_reason") is not None:
            found.append(Hold(f"file:{f['id']}", str(f["hold_reason"])))
    return found


async def create_hold(rt: Runtime, who: Principal, body: HoldCreate) -> HoldRow:
    """Put a run, an agent's runs, or a query's runs on hold (admin; audited).

    A query that matches no run is refused (422): it is most likely a typing mistake, and
    a hold meant for runs yet to come is made on their agent or in the policy.
    """
    who.require(Permission.GOVERN)
    given = [k for k in ("run_id", "agent_id", "query") if getattr(body, k) is not None]
    if len(given) != 1:
        raise Invalid.field(
            "run_id", "name exactly one of run_id, agent_id or query", {k: True for k in given}
        )
    reason = body.reason.strip()
    if not reason:
        raise Invalid.field("reason", "a hold needs a reason", body.reason)
    row: HoldRow = {
        "id": new_id("hld"),
        "tenant_id": who.tenant_id,
        "scope": "run",
        "run_id": None,
        "agent_id": None,
        "query": None,
        "reason": reason,
        "created_at": utcnow(),
        "created_by_key_id": who.key_id,
        "released_at": None,
        "released_by_key_id": None,
    }
    matched = 1
    if body.run_id is not None:
        row["run_id"] = (await runs_svc.get_run(rt, who, body.run_id))["id"]
    elif body.agent_id is not None:
        row["scope"] = "agent"
        row["agent_id"] = (await agents_svc.find_agent(rt, who, body.agent_id))["id"]
    else:
        assert body.query is not None
        row["scope"] = "query"
        row["query"] = await _query(rt, who, body.query.model_dump(mode="json", exclude_none=True))
    async with rt.db.write() as conn:
        if row["scope"] != "run":
            matched = await _count(conn, who.tenant_id, row)
        if row["scope"] == "query" and matched == 0:
            raise Invalid.field("query", "the hold's query matches no run", row["query"])
        await store.insert(conn, row)
        await audit.record(conn, who, "hold.created", "legal_hold", row["id"], _audited(row))
    return {**row, "matched_runs": matched}


async def _query(rt: Runtime, who: Principal, query: JSONObject) -> JSONObject:
    """A hold's query, checked: its range not empty, its agent named by id."""
    after, before = query.get("created_after"), query.get("created_before")
    if isinstance(after, str) and isinstance(before, str):
        if _at(after) >= _at(before):
            raise Invalid.field(
                "query.created_after", "created_after must be before created_before", after
            )
    agent = query.get("agent_id")
    if isinstance(agent, str):
        query["agent_id"] = (await agents_svc.find_agent(rt, who, agent))["id"]
    return query


def _at(value: str) -> datetime:
    at = aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
    assert at is not None
    return at


async def _count(conn: Conn, tenant_id: str, row: HoldRow) -> int:
    """How many of the tenant's runs a hold keeps now."""
    return await store.count_matching(
        conn, tenant_id, row["query"] or {"agent_id": row["agent_id"]}
    )


def _audited(row: HoldRow) -> JSONObject:
    return {k: row[k] for k in ("scope", "run_id", "agent_id", "query", "reason")}


async def get_hold(rt: Runtime, who: Principal, hold_id: str) -> HoldRow:
    """One hold of the tenant, with the runs it keeps now, or NotFound."""
    who.require(Permission.GOVERN)
    async with rt.db.read() as conn:
        row = await store.get(conn, who.tenant_id, hold_id)
        if row is None:
            raise NotFound(f"no legal hold {hold_id!r}", [{"name": "hold_id", "value": hold_id}])
        matched = 1 if row["scope"] == "run" else await _count(conn, who.tenant_id, row)
    return {**row, "matched_runs": matched}


async def list_holds(
    rt: Runtime, who: Principal, include_released: bool, limit: int, token: str | None
) -> tuple[list[HoldRow], str | None]:
    """A page of the tenant's holds, newest first (active only unless asked)."""
    who.require(Permission.GOVERN)
    after = decode_token(token) if token else None
    async with rt.db.read() as conn:
        rows = await store.list_page(
            conn, who.tenant_id, include_released=include_released, limit=limit, after=after
        )
    return page_of(rows, limit)


async def release_hold(rt: Runtime, who: Principal, hold_id: str) -> HoldRow:
    """Release an active hold (admin; audited); a released one is a 409."""
    who.require(Permission.GOVERN)
    now = utcnow()
    async with rt.db.write() as conn:
        row = await store.get(conn, who.tenant_id, hold_id)
        if row is None:
            raise NotFound(f"no legal hold {hold_id!r}", [{"name": "hold_id", "value": hold_id}])
        if not await store.release(conn, who.tenant_id, hold_id, now, who.key_id):
            raise Conflict(
                f"legal hold {hold_id} was released already (at {row['released_at']})",
                [{"name": "hold_id", "value": hold_id}],
            )
        await audit.record(conn, who, "hold.released", "legal_hold", hold_id, _audited(row))
    return {**row, "released_at": now, "released_by_key_id": who.key_id}


async def holds_of_run(rt: Runtime, who: Principal, run: RunRecord) -> list[Hold]:
    """What keeps a run the caller can read; the reasons for admin keys only."""
    async with rt.db.read() as conn:
        found = await held_by(conn, who.tenant_id, run)
    if who.can(Permission.GOVERN):
        return found
    return [Hold(h.id, "") for h in found]
