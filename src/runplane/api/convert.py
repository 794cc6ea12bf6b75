"""Rows to wire models: what each resource looks like on the way out."""

from typing import Any

from runplane.domain.models import Principal
from runplane.schemas import (
    AgentPublic,
    ApprovalPublic,
    ConnectionPublic,
    EventPublic,
    RevisionPublic,
    RunPublic,
    StepPublic,
    VerifyResult,
)

Row = Any


def run_public(row: Row, who: Principal) -> RunPublic:
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


def step_public(row: Row, files: list[Row] | None = None) -> StepPublic:
    """A step, with the files it saved."""
    return StepPublic.model_validate({**dict(row), "files": [dict(f) for f in files or []]})


def event_public(row: Row) -> EventPublic:
    """An event."""
    return EventPublic.model_validate(dict(row))


def agent_public(row: Row) -> AgentPublic:
    """An agent, with the schema parts of its configuration."""
    cfg = row["config"] or {}
    return AgentPublic(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        description=row["description"],
        input_schema=cfg.get("input_schema"),
        output=cfg.get("output", "json"),
        output_schema=cfg.get("output_schema"),
        published_revision_id=row["published_revision_id"],
        last_completed_at=row["last_completed_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def revision_public(row: Row) -> RevisionPublic:
    """A revision."""
    return RevisionPublic.model_validate(dict(row))


def verify_public(check: Any) -> VerifyResult:
    """The outcome of a log check."""
    return VerifyResult(
        ok=check.ok,
        events=check.events,
        first_bad_seq=check.first_bad_seq,
        deleted=check.deleted,
        last_hash=check.last_hash,
    )


def approval_public(row: Row, link: str | None = None) -> ApprovalPublic:
    """An approval; its ``link`` only when given (to keys that may decide it)."""
    data = dict(row)
    data["link"] = link
    if link is None:
        data["link_expires_at"] = None
    return ApprovalPublic.model_validate(data)


def connection_public(row: Row, resumed: list[str] | None = None) -> ConnectionPublic:
    """A connection, without its secret."""
    return ConnectionPublic(
        user_id=row["user_id"],
        integration=row["integration"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        resumed_runs=resumed or [],
    )
