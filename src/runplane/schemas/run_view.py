"""A run as a key sees it: shared by the API and by evidence bundles (which show the same)."""

from typing import Any

from runplane.domain.models import Principal
from runplane.schemas.wire import RunPublic


def run_public(row: Any, who: Principal) -> RunPublic:
    """A run; its hidden ``context`` and its executor (which names a host) only for admin keys."""
    data = dict(row)
    data["context"] = data["context"] if who.is_admin else None
    data["executor_id"] = data.get("executor_id") if who.is_admin else None
    data["integrations"] = data["integrations"] if data["integrations"] is not None else []
    data["approval_rules"] = data["approval_rules"] or []
    data["file_ids"] = data.get("file_ids") or []
    data["site_ids"] = data.get("site_ids") or []
    # A step agent's run keeps its per-step overrides with its model settings.
    model = data.get("model")
    if isinstance(model, dict) and "steps" in model:
        data["step_overrides"] = model["steps"] or {}
        data["model"] = {k: v for k, v in model.items() if k != "steps"} or None
    return RunPublic.model_validate(data)
