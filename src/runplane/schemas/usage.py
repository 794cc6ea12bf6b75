"""Wire models of model usage: estimates, totals (``/v1/usage``) and budgets."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from runplane.schemas.wire import Ceiling, Usage


class StepEstimate(BaseModel):
    """One expected model call of a run: its model, tokens and credits."""

    name: str
    model: str
    usage: Usage
    credits: float | None = Field(description="None: the model has no price in the catalogue")


class RunEstimate(BaseModel):
    """What a run would cost, before it starts (``POST /v1/runs/estimate``)."""

    agent_id: str
    revision_id: str
    credits: float | None = Field(description="None: nothing to estimate, or a model unpriced")
    steps: list[StepEstimate] = []


class UsageTotal(BaseModel):
    """The model calls of one agent, model or UTC day: how many, their tokens and credits."""

    key: str = Field(description="the agent's name, the model, or the day (YYYY-MM-DD)")
    calls: int
    runs: int
    usage: Usage
    credits: float


class UsageTotals(BaseModel):
    """The tenant's model usage over a time range, grouped."""

    group_by: Literal["agent", "model", "day"]
    since: datetime | None = None
    until: datetime | None = None
    items: list[UsageTotal]
    usage: Usage
    credits: float


class BudgetPut(BaseModel):
    """A budget of model usage: soft limits pause a run, the hard ceiling fails it."""

    model_config = ConfigDict(extra="forbid")

    credits: float | None = Field(default=None, ge=0)
    tokens: int | None = Field(default=None, ge=0)
    hard_ceiling: Ceiling | None = None
    period: Literal["day", "month", "total"] = Field(
        default="month", description="what is counted against it: today's, this month's or all"
    )


class BudgetPublic(BudgetPut):
    """A tenant's or an agent's budget."""

    model_config = ConfigDict(extra="ignore")

    scope: Literal["tenant", "agent"]
    agent: str | None = None
    updated_at: datetime


class BudgetApprove(BaseModel):
    """Approve a paused run's overrun: this much more (credits and/or tokens) for this run."""

    model_config = ConfigDict(extra="forbid")

    credits: float | None = Field(default=None, gt=0)
    tokens: int | None = Field(default=None, gt=0)
