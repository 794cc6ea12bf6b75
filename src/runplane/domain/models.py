"""Small value objects shared by services, the engine and the API."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, NotRequired, TypedDict

from runplane.domain.errors import Forbidden
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
from runplane.domain.roles import Permission, allows


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
    """Who is calling: the tenant, the key, its role and the user it is bound to, if any."""

    tenant_id: str
    key_id: str
    role: str = "member"
    user_id: str | None = None
    # How the caller acts, for actor attribution: api (a key), console (a signed-in
    # session), link (an approval link's token), trigger, schedule, agent, or system.
    via: str = "api"

    def can(self, permission: Permission) -> bool:
        """Tell whether this key's role allows ``permission``."""
        return allows(self.role, permission)

    def require(self, permission: Permission) -> None:
        """Raise Forbidden unless this key's role allows ``permission``."""
        if not allows(self.role, permission):
            raise Forbidden(f"a {self.role} key may not do this (needs {permission.value})")

    @property
    def is_admin(self) -> bool:
        """Tell whether this key may see hidden context (admin keys only)."""
        return self.can(Permission.SEE_CONTEXT)


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
    policy_version: NotRequired[int | None]  # the governance policy in force at creation
    redacted: NotRequired[JSONObject | None]  # fields removed by retention, with their hashes
    created_by_key_id: str | None  # the key that started it (None: before it was recorded)
    file_ids: list[str] | None  # files it was given to read
    site_ids: list[str] | None  # sites whose files it reads
    admitted_at: datetime | None  # handed to the engine; None while held (quota, not_before)
    not_before: datetime | None  # a scheduled start (``after_seconds``)
    executor_id: str | None  # the process executing it (or that executed its last attempt)
    created_at: datetime
    started_at: datetime | None
    updated_at: datetime
    finished_at: datetime | None
    owner: str | None  # the executor whose attempt holds the run (fencing)
    epoch: int  # what every write of that attempt must find; a new attempt moves it on
    trigger_id: str | None  # the trigger that started it (its kind is ``trigger``)
    usage: dict[str, int] | None  # token totals of its model calls (``USAGE_KEYS``)
    credits_estimated: float | None  # estimated before it started (None: no estimate)
    traceparent: NotRequired[str | None]  # W3C trace context of the request that created it
    credits_actual: float | None  # what its model calls cost so far
    budget: JSONObject | None  # its own budget: ``credits``, ``tokens``, ``hard_ceiling``
    replay_of: NotRequired[str | None]  # a replay's recorded run (its tools are not called)


class LiveRunRecord(RunRecord):
    """A run as read with its liveness and its last event's time (not columns: computed)."""

    liveness: Literal["working", "stalled", "lost"] | None
    last_progress_at: datetime | None


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
    # A model call's (``ctx.complete``): the model that answered, the effort asked for,
    # its four token counts and its credits.
    model: str | None = None
    reasoning_effort: str | None = None
    usage: dict[str, int] | None = None
    credits: float | None = None


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
    reasoning_effort: str | None
    input_tokens: int | None
    output_tokens: int | None
    cached_tokens: int | None
    reasoning_tokens: int | None
    credits: float | None
    started_at: datetime | None
    finished_at: datetime | None


class BudgetRecord(TypedDict):
    """A row of ``budgets``: a tenant's or an agent's limits on model usage per period."""

    tenant_id: str
    scope: str  # ``tenant`` or ``agent``
    target: str  # the agent's name, or "" for the tenant
    credits: float | None  # soft limit: a run that would pass it pauses
    tokens: int | None
    hard_credits: float | None  # hard ceiling: a run that would pass it fails
    hard_tokens: int | None
    period: str  # ``day``, ``month`` or ``total``
    updated_at: datetime


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
    decided_by_key_id: str | None
    decided_via: str | None  # api, console, link; None for the system (expiry, run ended)
    link_sealed: str | None
    link_expires_at: datetime | None
    link_revoked_at: datetime | None
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
    link_sealed: str
    link_expires_at: datetime
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
    split: NotRequired[JSONObject | None]  # an A/B split: revision_a, revision_b, percent_b
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
    max_running: int | None  # quota overrides; None: the server's default
    max_queued: int | None


class ApiKeyRecord(TypedDict):
    """A row of ``api_keys`` (the key's hash, never the key)."""

    id: str
    tenant_id: str
    name: str | None
    prefix: str
    key_hash: str
    role: str
    user_id: str | None
    created_at: datetime
    revoked_at: datetime | None


class AuditEventRecord(TypedDict):
    """A row of ``audit_events``: who changed what, when (``data`` says how)."""

    id: str
    tenant_id: str
    at: datetime
    actor_key_id: str | None
    actor_type: str
    actor_role: str | None
    actor_user_id: str | None
    action: str
    target_type: str
    target_id: str | None
    data: JSONObject


class IdempotencyRecord(TypedDict):
    """A row of ``idempotency_keys``: which run a key created."""

    tenant_id: str
    key: str
    request_hash: str
    run_id: str
    created_at: datetime


class WebhookSecretRecord(TypedDict):
    """A row of ``webhook_secrets``: a tenant's sealed signing secret, and the one it replaced."""

    tenant_id: str
    secret: str
    previous_secret: str | None
    previous_valid_until: datetime | None
    created_at: datetime


class ConnectionRecord(TypedDict):
    """A row of ``connections``: a user's sealed credential for an integration."""

    tenant_id: str
    user_id: str
    integration: str
    secret: str
    created_at: datetime
    updated_at: datetime


class TenantModelRecord(TypedDict):
    """A row of ``tenant_models``: a tenant's own catalogue entry (prices per million tokens)."""

    tenant_id: str
    name: str
    provider: str
    context_window: int
    input_per_mtok: float
    output_per_mtok: float
    cached_per_mtok: float
    created_at: datetime
    updated_at: datetime


class ModelProviderRecord(TypedDict):
    """A row of ``model_providers``: a tenant's model server and its sealed API key."""

    tenant_id: str
    name: str
    kind: str
    base_url: str | None
    api_key: str | None
    key_hint: str | None
    default_model: str | None
    is_default: bool
    created_at: datetime
    updated_at: datetime


class WebhookEndpointRecord(TypedDict):
    """A row of ``webhook_endpoints``: where a tenant's lifecycle webhooks go."""

    tenant_id: str
    id: str
    url: str
    events: list[str]
    secret: str | None  # sealed
    enabled: bool
    description: str | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class WebhookDeliveryRecord(TypedDict):
    """A row of ``webhook_deliveries``: one event for one target, in the outbox until sent."""

    id: str
    tenant_id: str
    run_id: str
    target: str
    event: str
    payload: JSONObject
    position: int
    status: str
    attempts: int
    next_attempt_at: datetime
    retry_until: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class WebhookAttemptRecord(TypedDict):
    """A row of ``webhook_attempts``: one try of a delivery and how it went."""

    delivery_id: str
    number: int
    tenant_id: str
    at: datetime
    status_code: int | None
    latency_ms: float
    response: str | None
    error: str | None


class CustomerIntegrationRecord(TypedDict):
    """A row of ``customer_integrations``: an integration of the catalog a tenant installed."""

    tenant_id: str
    id: str
    integration: str
    name: str
    active: bool
    settings: JSONObject
    created_at: datetime
    updated_at: datetime


class SiteRecord(TypedDict):
    """A row of ``sites``: a named collection of a tenant's files."""

    id: str
    tenant_id: str
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime


class TriggerRecord(TypedDict):
    """A row of ``triggers``: what starts runs of an agent on a schedule or a webhook."""

    id: str
    tenant_id: str
    kind: str
    name: str | None
    agent_id: str
    revision_id: str | None
    input: JSON
    variables: JSONObject
    enabled: bool
    user_id: str | None
    created_by_key_id: str | None
    schedule: str | None
    timezone: str | None
    start_at: datetime | None
    end_at: datetime | None
    catch_up: str | None
    paused: bool
    next_fire_at: datetime | None
    last_fired_at: datetime | None
    secret: str | None  # sealed (services/crypto.Keys.seal); shown once at creation
    mapping: dict[str, str] | None
    options: JSONObject
    last_run_id: str | None
    created_at: datetime
    updated_at: datetime


class FileRecord(TypedDict):
    """A row of ``files``: an upload into a site, or an artifact of a run's step."""

    id: str
    tenant_id: str
    site_id: str | None
    run_id: str | None  # the run whose step made it (None: uploaded)
    step: int | None  # that step's number (0: before the first step)
    name: str
    media_type: str
    size: int
    sha256: str
    created_at: datetime
    hold_reason: NotRequired[str | None]  # a legal hold's reason (None: not held)
    hold_by: NotRequired[str | None]  # the key id that put the hold
    hold_at: NotRequired[datetime | None]


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


class SigningKeyRecord(TypedDict):
    """A row of ``signing_keys``: a tenant's Ed25519 key for evidence bundles."""

    id: str
    tenant_id: str
    algorithm: str
    public_key: str  # PEM
    private_key: str  # sealed with the server's keys
    created_at: datetime
    retired_at: datetime | None  # rotated out: signs no more, still verifies


class EvidenceExportRecord(TypedDict):
    """A row of ``evidence_exports``: a bundle built in the background."""

    id: str
    tenant_id: str
    query: JSONObject  # {"run_ids": [...]} or {"agent_id", "created_after", ...}
    status: str  # queued | running | succeeded | failed
    runs_total: int
    runs_done: int
    bytes: int
    sha256: str | None
    location: str | None
    signing_key_id: str | None
    error: JSONObject | None
    owner: str | None
    heartbeat_at: datetime | None
    created_at: datetime
    created_by_key_id: str | None
    finished_at: datetime | None


class BenchmarkRecord(TypedDict):
    """A row of ``benchmarks``: an agent's scorers, and when they run."""

    id: str
    tenant_id: str
    agent_id: str
    name: str
    description: str | None
    scorers: list[JSONObject]
    on_completion: JSONObject | None  # {"sample_percent": 0–100}; None: off
    gate: JSONObject | None  # {"required", "thresholds", "replay_runs"}; None: no gate
    created_at: datetime
    updated_at: datetime


class BenchmarkCaseRecord(TypedDict):
    """A row of ``benchmark_cases``: one input and what it should give."""

    id: str
    tenant_id: str
    benchmark_id: str
    name: str
    input: JSON
    variables: JSONObject
    expected: JSON
    tags: list[str]
    file_ids: list[str] | None
    source_run_id: str | None
    created_at: datetime


class BenchmarkSuiteRecord(TypedDict):
    """A row of ``benchmark_suites``: a group of runs of one revision, scored together."""

    id: str
    tenant_id: str
    agent_id: str
    revision_id: str
    benchmark_id: str | None
    kind: str  # suite | replay
    status: str  # running | succeeded | failed | cancelled
    scorers: list[JSONObject]
    thresholds: dict[str, float]
    concurrency: int
    case_count: int
    summary: JSONObject | None
    passed: bool | None
    owner: str | None
    created_by_key_id: str | None
    cancel_requested_at: datetime | None
    created_at: datetime
    finished_at: datetime | None


class BenchmarkResultRecord(TypedDict):
    """A row of ``benchmark_results``: one run, scored."""

    id: str
    tenant_id: str
    agent_id: str
    revision_id: str
    benchmark_id: str | None
    suite_id: str | None
    case_id: str | None
    run_id: str | None
    reference_run_id: str | None
    kind: str  # suite | replay | completion | manual
    status: str  # pending | scored | error
    scores: list[JSONObject] | None
    passed: bool | None
    score: float | None
    latency_ms: float | None
    credits: float | None
    diff: JSONObject | None
    divergences: list[JSONObject] | None
    created_at: datetime
    scored_at: datetime | None
    # What it ran: name, input, variables, reference, file_ids, replay_of (a suite's item).
    item: NotRequired[JSONObject | None]
