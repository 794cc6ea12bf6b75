"""Model usage: prices, estimates before a run, and totals per agent, model or day."""

from datetime import datetime

from runplane.domain.errors import Invalid
from runplane.domain.json import JSONObject
from runplane.domain.models import Principal
from runplane.domain.roles import Permission
from runplane.schemas import RunCreate
from runplane.services import agents as agents_svc
from runplane.services import runs as runs_svc
from runplane.services.estimates import estimate
from runplane.services.prices import price_of
from runplane.services.runtime import Runtime
from runplane.store import usage as usage_store

__all__ = ["GROUPS", "estimate", "estimate_run", "price_of", "usage_totals"]

GROUPS = usage_store.GROUPS


async def usage_totals(
    rt: Runtime,
    who: Principal,
    group_by: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, object]]:
    """The tenant's model calls summed per agent, model or UTC day: tokens, credits, calls."""
    who.require(Permission.READ)
    if group_by not in GROUPS:
        raise Invalid.field("group_by", f"group_by must be one of {', '.join(GROUPS)}", group_by)
    if since is not None and until is not None and until <= since:
        raise Invalid.field("until", "until must be after since", until.isoformat())
    async with rt.db.read() as conn:
        rows = await usage_store.totals(conn, who.tenant_id, group_by, since, until)
    return [
        {
            "key": r["key"],
            "calls": int(r["calls"]),  # type: ignore[call-overload]
            "runs": int(r["runs"]),  # type: ignore[call-overload]
            "usage": {
                k: int(r[k])  # type: ignore[call-overload]
                for k in ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")
            },
            "credits": round(float(r["credits"]), 6),  # type: ignore[arg-type]
        }
        for r in rows
    ]


async def estimate_run(rt: Runtime, who: Principal, body: RunCreate) -> JSONObject:
    """``POST /v1/runs/estimate``: what a run with this body would cost; no run is made."""
    who.require(Permission.CREATE_RUNS)
    if not body.agent_id:
        raise Invalid.field("agent_id", "agent_id is required")
    agent = await agents_svc.agent_for_run(rt, who, body.agent_id)
    revision = await agents_svc.resolve_revision(rt, agent, body.revision_id)
    runs_svc.validate_input(revision["config"].get("input_schema"), body.input)
    found = await estimate(rt, who.tenant_id, revision["config"], body)
    return {"agent_id": agent["id"], "revision_id": revision["id"], **found}
