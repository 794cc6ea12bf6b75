"""The calls of model usage, estimates and budgets, built but not sent (see ``_base``)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from runplane.client._base import BaseClient, Call, _segment, raise_for_error
from runplane.schemas import RunBudget, RunCreate, RunPublic
from runplane.schemas.usage import (
    BudgetApprove,
    BudgetPublic,
    BudgetPut,
    RunEstimate,
    UsageTotals,
)


def _budget_path(agent: str | None) -> str:
    return "/v1/budgets/tenant" if agent is None else f"/v1/budgets/agents/{_segment(agent)}"


class UsageCalls:
    """``/v1/usage`` and ``/v1/runs/estimate``."""

    def __init__(self, base: BaseClient) -> None:
        self._base = base

    def totals(
        self, group_by: str, since: datetime | None, until: datetime | None
    ) -> Call[UsageTotals]:
        """``GET /v1/usage``."""
        params = {
            "group_by": group_by,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
        }
        return self._base.call("GET", "/v1/usage", UsageTotals, params=params)

    def estimate(self, fields: Mapping[str, Any]) -> Call[RunEstimate]:
        """``POST /v1/runs/estimate``: the body of a run create."""
        body = RunCreate.model_validate(fields).model_dump(mode="json", exclude_unset=True)
        return self._base.call("POST", "/v1/runs/estimate", RunEstimate, json=body)


class BudgetCalls:
    """``/v1/budgets`` and a run's own budget."""

    def __init__(self, base: BaseClient) -> None:
        self._base = base

    def list(self) -> Call[list[BudgetPublic]]:
        """``GET /v1/budgets``."""
        return self._base.call("GET", "/v1/budgets", list[BudgetPublic])

    def get(self, agent: str | None) -> Call[BudgetPublic]:
        """``GET /v1/budgets/tenant`` or ``/v1/budgets/agents/{agent}``."""
        return self._base.call("GET", _budget_path(agent), BudgetPublic)

    def put(self, agent: str | None, fields: Mapping[str, Any]) -> Call[BudgetPublic]:
        """``PUT /v1/budgets/tenant`` or ``/v1/budgets/agents/{agent}``."""
        body = BudgetPut.model_validate(fields).model_dump(mode="json", exclude_unset=True)
        return self._base.call("PUT", _budget_path(agent), BudgetPublic, json=body)

    def delete(self, agent: str | None) -> Call[None]:
        """``DELETE /v1/budgets/tenant`` or ``/v1/budgets/agents/{agent}``."""
        return Call(self._base.build_request("DELETE", _budget_path(agent)), raise_for_error)

    def set_run(self, run_id: str, fields: Mapping[str, Any]) -> Call[RunPublic]:
        """``PUT /v1/runs/{id}/budget``."""
        body = RunBudget.model_validate(fields).model_dump(mode="json", exclude_unset=True)
        path = f"/v1/runs/{_segment(run_id)}/budget"
        return self._base.call("PUT", path, RunPublic, json=body)

    def approve(self, run_id: str, fields: Mapping[str, Any]) -> Call[RunPublic]:
        """``POST /v1/runs/{id}/budget/approve``."""
        body = BudgetApprove.model_validate(fields).model_dump(mode="json", exclude_none=True)
        path = f"/v1/runs/{_segment(run_id)}/budget/approve"
        return self._base.call("POST", path, RunPublic, json=body)
