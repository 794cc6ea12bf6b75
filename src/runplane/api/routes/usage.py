"""``/v1/usage``: the tenant's model usage over time; ``/v1/runs/estimate``: a run's cost ahead."""

from datetime import datetime
from typing import Literal

from fastapi import APIRouter

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.schemas import RunCreate
from runplane.schemas.usage import RunEstimate, UsageTotals
from runplane.services import usage as svc

router = APIRouter(prefix="/v1", tags=["usage"])


@router.get("/usage", response_model=UsageTotals)
async def get_usage(
    rt: RuntimeDep,
    who: PrincipalDep,
    group_by: Literal["agent", "model", "day"] = "agent",
    since: datetime | None = None,
    until: datetime | None = None,
) -> UsageTotals:
    """Tokens and credits of the tenant's model calls per agent, model or UTC day."""
    return await svc.usage_totals(rt, who, group_by, since, until)


@router.post("/runs/estimate", response_model=RunEstimate, tags=["runs"])
async def estimate_run(body: RunCreate, rt: RuntimeDep, who: PrincipalDep) -> RunEstimate:
    """The credits a run with this body would cost (no run is made)."""
    return RunEstimate.model_validate(await svc.estimate_run(rt, who, body))
