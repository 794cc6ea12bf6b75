"""Model usage: prices, estimates before a run, and totals per agent, model or day."""

from datetime import datetime

from runplane.domain.errors import Invalid
from runplane.domain.json import JSONObject
from runplane.domain.models import Principal
from runplane.domain.roles import Permission
from runplane.providers.base import USAGE_KEYS
from runplane.schemas import RunCreate, Usage
from runplane.schemas.usage import UsageTotal, UsageTotals
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
) -> UsageTotals:
    """The tenant's model calls summed per agent, model or UTC day: tokens, credits, calls."""
    who.require(Permission.READ)
    if group_by not in GROUPS:
        raise Invalid.field("group_by", f"group_by must be one of {', '.join(GROUPS)}", group_by)
    if since is not None and until is not None and until <= since:
        raise Invalid.field("until", "until must be after since", until.isoformat())
    async with rt.db.read() as conn:
        rows = await usage_store.totals(conn, who.tenant_id, group_by, since, until)
    items = [
        UsageTotal(
            key=str(r["key"]),
            calls=_int(r["calls"]),
            runs=_int(r["runs"]),
            usage=Usage(**{k: _int(r[k]) for k in USAGE_KEYS}),
            credits=round(_float(r["credits"]), 6),
        )
        for r in rows
    ]
    total = Usage(**{k: sum(getattr(i.usage, k) for i in items) for k in USAGE_KEYS})
    return UsageTotals(
        group_by=group_by,  # type: ignore[arg-type]
        since=since,
        until=until,
        items=items,
        usage=total,
        credits=round(sum(i.credits for i in items), 6),
    )


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float | str) else 0


def _float(value: object) -> float:
    return float(value) if isinstance(value, int | float | str) else 0.0


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
