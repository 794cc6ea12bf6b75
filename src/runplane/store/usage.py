"""Model usage: tokens and credits of steps summed per run, agent, model or day; budgets."""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from runplane.domain.json import JSONObject
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import BudgetRecord, RunRecord
from runplane.store.db import Conn
from runplane.store.dialect import upsert, utc_day
from runplane.store.runs import as_run
from runplane.store.schema import budgets, run_tombstones, runs, steps

GROUPS = ("agent", "model", "day")


def _owners(tenant_id: str) -> sa.Subquery:
    """The tenant's runs by id and agent name: those that exist and those deleted, whose
    metered steps are kept, so that deleting a run changes no usage total or budget."""
    live = sa.select(runs.c.id.label("run_id"), runs.c.agent_name).where(
        runs.c.tenant_id == tenant_id
    )
    gone = sa.select(run_tombstones.c.run_id, run_tombstones.c.agent_name).where(
        run_tombstones.c.tenant_id == tenant_id
    )
    return sa.union_all(live, gone).subquery("owners")


def _tokens() -> sa.ColumnElement[int]:
    return sa.func.coalesce(steps.c.input_tokens, 0) + sa.func.coalesce(steps.c.output_tokens, 0)


async def spent(
    conn: Conn,
    tenant_id: str,
    agent_name: str | None,
    since: datetime | None,
    besides: str | None = None,
) -> tuple[int, float]:
    """Tokens (input + output) and credits the tenant's (or one agent's) model calls used.

    ``besides`` leaves out one run (the one asking, which counts its own in memory).
    """
    owners = _owners(tenant_id)
    stmt = (
        sa.select(
            sa.func.coalesce(sa.func.sum(_tokens()), 0),
            sa.func.coalesce(sa.func.sum(steps.c.credits), 0.0),
        )
        .select_from(steps.join(owners, owners.c.run_id == steps.c.run_id))
        .where(steps.c.input_tokens.is_not(None))
    )
    if agent_name is not None:
        stmt = stmt.where(owners.c.agent_name == agent_name)
    if since is not None:
        stmt = stmt.where(steps.c.finished_at >= since)
    if besides is not None:
        stmt = stmt.where(owners.c.run_id != besides)
    row = (await conn.execute(stmt)).one()
    return int(row[0] or 0), float(row[1] or 0.0)


async def totals(
    conn: Conn,
    tenant_id: str,
    group_by: str,
    since: datetime | None,
    until: datetime | None,
) -> list[dict[str, object]]:
    """The tenant's model calls summed per ``group_by`` (agent, model or day), in order."""
    if group_by not in GROUPS:
        raise ValueError(group_by)
    owners = _owners(tenant_id)
    key: sa.ColumnElement[str] = (
        owners.c.agent_name
        if group_by == "agent"
        else sa.func.coalesce(steps.c.model, "")
        if group_by == "model"
        else utc_day(conn, steps.c.finished_at)
    )
    key = key.label("key")
    stmt = (
        sa.select(
            key,
            sa.func.count().label("calls"),
            sa.func.count(sa.distinct(steps.c.run_id)).label("runs"),
            sa.func.coalesce(sa.func.sum(steps.c.input_tokens), 0).label("input_tokens"),
            sa.func.coalesce(sa.func.sum(steps.c.output_tokens), 0).label("output_tokens"),
            sa.func.coalesce(sa.func.sum(steps.c.cached_tokens), 0).label("cached_tokens"),
            sa.func.coalesce(sa.func.sum(steps.c.reasoning_tokens), 0).label("reasoning_tokens"),
            sa.func.coalesce(sa.func.sum(steps.c.credits), 0.0).label("credits"),
        )
        .select_from(steps.join(owners, owners.c.run_id == steps.c.run_id))
        .where(steps.c.input_tokens.is_not(None))
        .group_by(key)
        .order_by(key)
    )
    if since is not None:
        stmt = stmt.where(steps.c.finished_at >= since)
    if until is not None:
        stmt = stmt.where(steps.c.finished_at < until)
    return [dict(r) for r in (await conn.execute(stmt)).mappings().all()]


async def list_budgets(conn: Conn, tenant_id: str) -> list[BudgetRecord]:
    """Every budget of the tenant, the tenant's first."""
    stmt = (
        sa.select(budgets)
        .where(budgets.c.tenant_id == tenant_id)
        .order_by(budgets.c.scope.desc(), budgets.c.target)
    )
    return [BudgetRecord(**r) for r in (await conn.execute(stmt)).mappings().all()]  # type: ignore[typeddict-item]


async def get_budget(conn: Conn, tenant_id: str, scope: str, target: str) -> BudgetRecord | None:
    """One budget, or None."""
    stmt = sa.select(budgets).where(
        budgets.c.tenant_id == tenant_id, budgets.c.scope == scope, budgets.c.target == target
    )
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else BudgetRecord(**row)  # type: ignore[typeddict-item]


async def put_budget(conn: Conn, row: BudgetRecord) -> None:
    """Create or replace a budget."""
    values = dict(row)
    await conn.execute(upsert(conn, budgets, [values], ["tenant_id", "scope", "target"]), values)


async def delete_budget(conn: Conn, tenant_id: str, scope: str, target: str) -> bool:
    """Remove a budget; tell whether there was one."""
    stmt = budgets.delete().where(
        budgets.c.tenant_id == tenant_id, budgets.c.scope == scope, budgets.c.target == target
    )
    return bool((await conn.execute(stmt)).rowcount)


async def paused_on_budget(
    conn: Conn, tenant_id: str, agent_name: str | None = None
) -> Sequence[RunRecord]:
    """The tenant's (or one agent's) runs paused because a model call would pass a budget."""
    stmt = sa.select(runs).where(runs.c.tenant_id == tenant_id, runs.c.status == RunStatus.PAUSED)
    if agent_name is not None:
        stmt = stmt.where(runs.c.agent_name == agent_name)
    found = [as_run(r) for r in (await conn.execute(stmt)).mappings().all()]
    return [r for r in found if (r["waiting_on"] or {}).get("kind") == "budget"]


async def limits_for(conn: Conn, run_id: str) -> tuple[JSONObject | None, list[BudgetRecord]]:
    """A run's own budget as it is now, and its tenant's and agent's: in one query."""
    applies = sa.and_(
        budgets.c.tenant_id == runs.c.tenant_id,
        sa.or_(
            budgets.c.scope == "tenant",
            sa.and_(budgets.c.scope == "agent", budgets.c.target == runs.c.agent_name),
        ),
    )
    stmt = (
        sa.select(runs.c.budget.label("own"), *budgets.c)
        .select_from(runs.outerjoin(budgets, applies))
        .where(runs.c.id == run_id)
    )
    rows = (await conn.execute(stmt)).mappings().all()
    own = rows[0]["own"] if rows else None
    shared = [
        BudgetRecord(**{c.name: r[c.name] for c in budgets.c})  # type: ignore[typeddict-item]
        for r in rows
        if r["scope"] is not None
    ]
    return (own if isinstance(own, dict) else None), shared
