"""Rows to wire models: what each resource looks like on the way out."""

from typing import Any

from runplane.schemas import (
    AgentPublic,
    ApprovalPublic,
    ConnectionPublic,
    EventPublic,
    RevisionPublic,
    StepPublic,
    VerifyResult,
)

# Evidence bundles show runs as the API does: the conversion lives with the schemas.
from runplane.schemas.run_view import run_public as run_public

Row = Any


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
