"""``/v1/budgets``: the tenant's and agents' budgets; a run's own budget and its overruns."""

from fastapi import APIRouter, Response

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.api.routes.runs import live_run
from runplane.schemas import RunBudget, RunPublic
from runplane.schemas.usage import BudgetApprove, BudgetPublic, BudgetPut
from runplane.services import budgets as svc

router = APIRouter(prefix="/v1", tags=["budgets"])
# The tenant's budget takes no parameter, yet may not be set.
UNSET: dict[int | str, dict[str, str]] = {404: {"description": "No budget is set"}}


@router.get("/budgets", response_model=list[BudgetPublic])
async def list_budgets(rt: RuntimeDep, who: PrincipalDep) -> list[BudgetPublic]:
    """The tenant's budget and its agents' budgets."""
    return [svc.budget_public(b) for b in await svc.list_budgets(rt, who)]


@router.get("/budgets/tenant", response_model=BudgetPublic, responses=UNSET)
async def get_tenant_budget(rt: RuntimeDep, who: PrincipalDep) -> BudgetPublic:
    """The tenant's budget."""
    return svc.budget_public(await svc.get_budget(rt, who, "tenant", None))


@router.put("/budgets/tenant", response_model=BudgetPublic)
async def put_tenant_budget(body: BudgetPut, rt: RuntimeDep, who: PrincipalDep) -> BudgetPublic:
    """Set the tenant's budget (admin keys); runs it paused resume and check again."""
    return svc.budget_public(await svc.put_budget(rt, who, "tenant", None, body))


@router.delete("/budgets/tenant", status_code=204, responses=UNSET)
async def delete_tenant_budget(rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Remove the tenant's budget (admin keys); runs it paused resume."""
    await svc.delete_budget(rt, who, "tenant", None)
    return Response(status_code=204)


@router.get("/budgets/agents/{agent}", response_model=BudgetPublic)
async def get_agent_budget(agent: str, rt: RuntimeDep, who: PrincipalDep) -> BudgetPublic:
    """An agent's budget."""
    return svc.budget_public(await svc.get_budget(rt, who, "agent", agent))


@router.put("/budgets/agents/{agent}", response_model=BudgetPublic)
async def put_agent_budget(
    agent: str, body: BudgetPut, rt: RuntimeDep, who: PrincipalDep
) -> BudgetPublic:
    """Set an agent's budget (admin keys); its runs it paused resume and check again."""
    return svc.budget_public(await svc.put_budget(rt, who, "agent", agent, body))


@router.delete("/budgets/agents/{agent}", status_code=204)
async def delete_agent_budget(agent: str, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Remove an agent's budget (admin keys); its runs it paused resume."""
    await svc.delete_budget(rt, who, "agent", agent)
    return Response(status_code=204)


@router.put("/runs/{run_id}/budget", response_model=RunPublic, tags=["runs"])
async def put_run_budget(
    run_id: str, body: RunBudget, rt: RuntimeDep, who: PrincipalDep
) -> RunPublic:
    """Replace a run's own budget (admin keys); a run it paused resumes and checks again."""
    return await live_run(rt, who, await svc.set_run_budget(rt, who, run_id, body))


@router.post("/runs/{run_id}/budget/approve", response_model=RunPublic, tags=["runs"])
async def approve_run_overrun(
    run_id: str, body: BudgetApprove, rt: RuntimeDep, who: PrincipalDep
) -> RunPublic:
    """Approve a budget-paused run's overrun by an amount; it resumes from the same step."""
    return await live_run(rt, who, await svc.approve_overrun(rt, who, run_id, body))
