"""Small value objects shared by services, the engine and the API."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypedDict

from runplane.domain.events import (
    ApprovalRequest,
    CancelReceipt,
    ErrorData,
    EventData,
    PlanningData,
    ResultData,
    WaitingOn,
)
from runplane.domain.json import JSON, JSONObject
from runplane.domain.policy import ApprovalRule


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
    data: EventData
    at: datetime


class ApprovalExpiry(TypedDict):
    """How long a run's approvals may wait, and what is done then."""

    seconds: float
    default_action: str


class Notify(TypedDict, total=False):
    """Where a run's notifications go."""

    webhook: str | None


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
    input: JSON
    variables: JSONObject | None
    context: JSONObject | None
    user_id: str | None
    metadata: JSONObject | None
    model: JSONObject | None  # ``name``, ``temperature``, ``reasoning_effort``
    timeout_seconds: float
    parent_run_id: str | None
    rerun_of: str | None
    from_step: int | None
    archived: bool
    steps_finished: int
    step_count: int
    result: ResultData | None
    error: ErrorData | None
    cancel_requested_at: datetime | None
    cancel_receipt: CancelReceipt | None
    last_seq: int
    last_hash: str
    last_op: int
    integrations: list[str] | Literal["*"] | None
    approval: str
    approval_rules: list[ApprovalRule] | None
    approval_expiry: ApprovalExpiry | None
    notify: Notify | None
    plan: PlanningData | None
    waiting_on: WaitingOn | None
    segment: int
    active_seconds: float
    resumed_at: datetime | None
    thread_id: str | None
    assistant_id: str | None
    graph: JSONObject | None  # a graph run's Agent Protocol options
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
    output: JSON = None
    error: ErrorData | None = None
    reused_from: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


# -- the other tables, one row each as the store returns it ---------------------------


class StepRow(TypedDict):
    """A row of ``steps`` (the engine works with ``StepRecord``)."""

    run_id: str
    number: int
    name: str
    status: str
    output: JSON
    error: ErrorData | None
    reused_from: str | None
    model: str | None
    started_at: datetime | None
    finished_at: datetime | None


class EventRecord(TypedDict):
    """A row of ``events``: one entry of a run's hash-chained log."""

    run_id: str
    seq: int
    type: str
    at: datetime
    data: JSONObject
    hash: str
    prev_hash: str


class ApprovalRecord(TypedDict):
    """A row of ``approvals``: a decision a run waits for, pending or made."""

    id: str
    tenant_id: str
    run_id: str
    key: str  # the wait it answers: ``plan``, ``tool:N`` or ``doubt:N``
    kind: str
    status: str
    request: ApprovalRequest
    decision: str | None
    arguments: JSONObject | None
    result: JSON
    comment: str | None
    decided_by: str | None
    decided_at: datetime | None
    expires_at: datetime | None
    default_action: str | None
    token_hash: str | None
    token_used_at: datetime | None
    created_at: datetime


class NewApproval(TypedDict):
    """The columns a new, pending approval is recorded with."""

    id: str
    tenant_id: str
    run_id: str
    key: str
    kind: str
    status: str
    request: ApprovalRequest
    expires_at: datetime | None
    default_action: str | None
    token_hash: str
    created_at: datetime


class AgentRecord(TypedDict):
    """A row of ``agents``."""

    id: str
    tenant_id: str
    name: str
    kind: str
    description: str | None
    config: JSONObject
    published_revision_id: str | None
    last_completed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RevisionRecord(TypedDict):
    """A row of ``revisions``: an agent's configuration and code hash, as published or not."""

    id: str
    tenant_id: str
    agent_id: str
    hash: str
    stage: str
    config: JSONObject
    created_at: datetime
    published_at: datetime | None


class TenantRecord(TypedDict):
    """A row of ``tenants``."""

    id: str
    name: str
    policy_version: int
    created_at: datetime


class ApiKeyRecord(TypedDict):
    """A row of ``api_keys`` (the key's hash, never the key)."""

    id: str
    tenant_id: str
    name: str | None
    prefix: str
    key_hash: str
    role: str
    created_at: datetime
    revoked_at: datetime | None


class IdempotencyRecord(TypedDict):
    """A row of ``idempotency_keys``: which run a key created."""

    tenant_id: str
    key: str
    request_hash: str
    run_id: str
    created_at: datetime


class ConnectionRecord(TypedDict):
    """A row of ``connections``: a user's sealed credential for an integration."""

    tenant_id: str
    user_id: str
    integration: str
    secret: str
    created_at: datetime
    updated_at: datetime


class ToolDocument(TypedDict):
    """A row of ``tool_records``: a document a tool kept."""

    id: str
    tenant_id: str
    collection: str
    data: JSONObject
    created_at: datetime


class AssistantRecord(TypedDict):
    """A row of ``assistants``: the current version of a graph's configuration."""

    id: str
    tenant_id: str
    graph_id: str
    agent_id: str
    name: str
    description: str | None
    config: JSONObject
    context: JSONObject
    metadata: JSONObject
    version: int
    created_at: datetime
    updated_at: datetime


class AssistantVersionRecord(TypedDict):
    """A row of ``assistant_versions``."""

    assistant_id: str
    version: int
    revision_id: str
    name: str
    description: str | None
    config: JSONObject
    context: JSONObject
    metadata: JSONObject
    created_at: datetime


class ThreadRecord(TypedDict):
    """A row of ``threads``."""

    id: str
    tenant_id: str
    status: str
    metadata: JSONObject
    values: JSON
    interrupts: JSONObject
    created_at: datetime
    updated_at: datetime


class ThreadView(ThreadRecord):
    """A thread with whether a run of it is queued or running now."""

    busy: bool


class RunInLine(TypedDict):
    """A run of a thread that is ahead of another: its id and status."""

    id: str
    status: str


class CronRecord(TypedDict):
    """A row of ``crons``."""

    id: str
    tenant_id: str
    assistant_id: str
    thread_id: str | None
    schedule: str
    timezone: str | None
    payload: JSONObject
    metadata: JSONObject
    enabled: bool
    on_run_completed: str | None
    end_time: datetime | None
    next_run_date: datetime | None
    user_id: str | None
    created_at: datetime
    updated_at: datetime
