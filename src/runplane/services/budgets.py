"""Budgets of model usage: a tenant's and its agents' (``/v1/budgets``), and a run's own.

A model call that would pass a soft limit pauses its run in a ``budget`` wait
(``engine/metering.py``); raising or removing the budget, or approving the run's
overrun, resumes the runs it held, which replay to the same call and check again.
"""

from typing import cast

from runplane.domain.errors import Conflict, Invalid, NotFound
from runplane.domain.json import JSONObject
from runplane.domain.models import BudgetRecord, Principal, RunRecord, utcnow
from runplane.domain.roles import Permission
from runplane.schemas import RunBudget
from runplane.schemas.usage import BudgetApprove, BudgetPublic, BudgetPut
from runplane.services import agents as agents_svc
from runplane.services import audit
from runplane.services import runs as runs_svc
from runplane.services.runtime import Runtime
from runplane.store import runs as runs_store
from runplane.store import usage as store

SCOPES = ("tenant", "agent")


def _budget_id(scope: str, target: str) -> str:
    """How the activity log names a budget: ``tenant``, or ``agent:<agent id>``."""
    return f"{scope}:{target}" if target else scope


def budget_public(row: BudgetRecord) -> BudgetPublic:
    """A budget as the API shows it."""
    hard = None
    if row["hard_credits"] is not None or row["hard_tokens"] is not None:
        hard = {"credits": row["hard_credits"], "tokens": row["hard_tokens"]}
    return BudgetPublic.model_validate(
        {
            "scope": row["scope"],
            "agent": row["target"] or None,
            "credits": row["credits"],
            "tokens": row["tokens"],
            "hard_ceiling": hard,
            "period": row["period"],
            "updated_at": row["updated_at"],
        }
    )


async def list_budgets(rt: Runtime, who: Principal) -> list[BudgetRecord]:
    """The tenant's budget and its agents'."""
    who.require(Permission.READ)
    async with rt.db.read() as conn:
        return await store.list_budgets(conn, who.tenant_id)


async def get_budget(rt: Runtime, who: Principal, scope: str, agent: str | None) -> BudgetRecord:
    """One budget (404 if none is set)."""
    who.require(Permission.READ)
    target = await _target(rt, who, scope, agent)
    async with rt.db.read() as conn:
        row = await store.get_budget(conn, who.tenant_id, scope, target)
    if row is None:
        raise _no_budget(scope, agent)
    return row


async def put_budget(
    rt: Runtime, who: Principal, scope: str, agent: str | None, body: BudgetPut
) -> BudgetRecord:
    """Set a budget; the runs it (or the one before it) paused resume and check again."""
    who.require(Permission.MANAGE_BUDGETS)
    target = await _target(rt, who, scope, agent)
    hard = body.hard_ceiling
    row: BudgetRecord = {
        "tenant_id": who.tenant_id,
        "scope": scope,
        "target": target,
        "credits": body.credits,
        "tokens": body.tokens,
        "hard_credits": hard.credits if hard else None,
        "hard_tokens": hard.tokens if hard else None,
        "period": body.period,
        "updated_at": utcnow(),
    }
    async with rt.db.write() as conn:
        await store.put_budget(conn, row)
        noted: JSONObject = {"credits": body.credits, "tokens": body.tokens, "period": body.period}
        await audit.record(conn, who, "budget.put", "budget", _budget_id(scope, target), noted)
    await _resume_held(rt, who, target or None, f"the {scope} budget changed")
    return row


async def delete_budget(rt: Runtime, who: Principal, scope: str, agent: str | None) -> None:
    """Remove a budget; the runs it paused resume."""
    who.require(Permission.MANAGE_BUDGETS)
    target = await _target(rt, who, scope, agent)
    async with rt.db.write() as conn:
        found = await store.delete_budget(conn, who.tenant_id, scope, target)
        if found:
            await audit.record(conn, who, "budget.deleted", "budget", _budget_id(scope, target))
    if not found:
        raise _no_budget(scope, agent)
    await _resume_held(rt, who, target or None, f"the {scope} budget was removed")


async def set_run_budget(rt: Runtime, who: Principal, run_id: str, body: RunBudget) -> RunRecord:
    """Replace a run's own budget (its approved overruns kept); resume it if one paused it."""
    who.require(Permission.MANAGE_BUDGETS)
    run = await runs_svc.get_run(rt, who, run_id)
    budget: JSONObject = body.model_dump(exclude_none=True)
    approved = (run["budget"] or {}).get("approved")
    if approved is not None and "approved" not in budget:
        budget["approved"] = approved
    async with rt.db.write() as conn:
        await runs_store.update_run(conn, run_id, budget=budget)
        await audit.record(conn, who, "run.budget_set", "run", run_id, budget)
    run = await runs_svc.get_run(rt, who, run_id)
    if _held(run):
        await _resume(rt, run, "the run's budget changed")
    return await runs_svc.get_run(rt, who, run_id)


async def approve_overrun(
    rt: Runtime, who: Principal, run_id: str, body: BudgetApprove
) -> RunRecord:
    """Let a run paused on a budget spend this much more, and resume it."""
    who.require(Permission.DECIDE_APPROVALS)
    if body.credits is None and body.tokens is None:
        raise Invalid.field("credits", "approve an amount of credits or tokens")
    run = await runs_svc.get_run(rt, who, run_id)
    if not _held(run):
        raise Conflict(
            f"run {run_id} is not paused on a budget", [{"name": "run_id", "value": run_id}]
        )
    budget: JSONObject = dict(run["budget"] or {})
    before = budget.get("approved")
    approved: JSONObject = dict(before) if isinstance(before, dict) else {}
    for unit, amount in (("credits", body.credits), ("tokens", body.tokens)):
        if amount is not None:
            had = approved.get(unit)
            approved[unit] = (had if isinstance(had, int | float) else 0) + amount
    budget["approved"] = approved
    async with rt.db.write() as conn:
        await runs_store.update_run(conn, run_id, budget=budget)
        await audit.record(conn, who, "run.overrun_approved", "run", run_id, approved)
    what = " and ".join(
        f"{v:g} {u}" for u, v in (("credits", body.credits), ("tokens", body.tokens)) if v
    )
    await _resume(
        rt, cast(RunRecord, {**run, "budget": budget}), f"an overrun of {what} was approved"
    )
    return await runs_svc.get_run(rt, who, run_id)


def _held(run: RunRecord) -> bool:
    return run["status"] == "paused" and (run["waiting_on"] or {}).get("kind") == "budget"


async def _resume(rt: Runtime, run: RunRecord, reason: str) -> bool:
    try:
        await rt.worker.resume(run, [], reason=reason)
    except Conflict:  # it moved meanwhile (canceled, or resumed elsewhere)
        return False
    return True


async def _resume_held(rt: Runtime, who: Principal, agent: str | None, reason: str) -> list[str]:
    async with rt.db.read() as conn:
        held = await store.paused_on_budget(conn, who.tenant_id, agent)
    return [run["id"] for run in held if await _resume(rt, run, reason)]


async def _target(rt: Runtime, who: Principal, scope: str, agent: str | None) -> str:
    if scope not in SCOPES:
        raise Invalid.field("scope", f"scope must be one of {', '.join(SCOPES)}", scope)
    if scope == "tenant":
        return ""
    if not agent:
        raise Invalid.field("agent", "name the agent")
    found = await agents_svc.find_agent(rt, who, agent)
    return found["name"]


def _no_budget(scope: str, agent: str | None) -> Exception:
    what = "the tenant" if scope == "tenant" else f"agent {agent!r}"
    return NotFound(f"no budget is set for {what}", [{"name": "scope", "value": scope}])
