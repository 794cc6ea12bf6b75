"""Small value objects shared by services, the engine and the API."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def iso(value: datetime) -> str:
    """Format a time as RFC 3339 UTC with microseconds: the one form we hash and send."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant, the key and its role."""

    tenant_id: str
    key_id: str
    role: str = "member"

    @property
    def is_admin(self) -> bool:
        """Tell whether this key may see hidden run context."""
        return self.role == "admin"


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended to a run's log."""

    type: str
    data: dict[str, Any]
    at: datetime


class RunRecord(TypedDict):
    """A run as the store keeps it: one row of ``runs``, every column typed."""

    id: str
    tenant_id: str
    agent_id: str
    agent_name: str
    revision_id: str
    name: str | None
    status: str
    trigger: str
    input: Any
    variables: dict[str, Any] | None
    context: dict[str, Any] | None
    user_id: str | None
    metadata: dict[str, Any] | None
    model: dict[str, Any] | None
    timeout_seconds: float
    parent_run_id: str | None
    rerun_of: str | None
    from_step: int | None
    archived: bool
    steps_finished: int
    step_count: int
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    cancel_requested_at: datetime | None
    cancel_receipt: dict[str, Any] | None
    last_seq: int
    last_hash: str
    last_op: int
    integrations: list[str] | Literal["*"] | None
    approval: str
    approval_rules: list[dict[str, Any]] | None
    approval_expiry: dict[str, Any] | None
    notify: dict[str, Any] | None
    plan: dict[str, Any] | None
    waiting_on: dict[str, Any] | None
    segment: int
    active_seconds: float
    resumed_at: datetime | None
    thread_id: str | None
    assistant_id: str | None
    graph: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    updated_at: datetime
    finished_at: datetime | None


@dataclass
class StepRecord:
    """A step as the engine writes and replays it."""

    number: int
    name: str
    status: str
    output: Any = None
    error: dict[str, Any] | None = None
    reused_from: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
