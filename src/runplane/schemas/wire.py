"""Pydantic models of what crosses the wire, shared by ``api/`` and ``client/``."""

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runplane.schemas.storable import INT32_MAX, check_storable

T = TypeVar("T")

Trigger = Literal["manual", "schedule", "webhook", "upload", "agent", "api", "benchmark"]
RunStatusName = Literal[
    "queued", "running", "paused", "auth_required", "succeeded", "failed", "canceled"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: object) -> object:
        check_storable(data)
        return data


class ErrorDetail(BaseModel):
    """One field that was wrong."""

    name: str
    value: Any = None


class ErrorBody(BaseModel):
    """Every error response: status, a sentence, and the fields at fault."""

    status_code: int
    message: str
    details: list[ErrorDetail] = []


class Page(BaseModel, Generic[T]):
    """A page of a list; pass ``continuation_token`` back for the next one."""

    items: list[T]
    continuation_token: str | None = None


class ModelSettings(_Strict):
    """Which model a run (or a step) uses, and how."""

    name: str | None = None
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)


class StepOverride(_Strict):
    """A run's change to one step of a step agent: another model, another reasoning effort."""

    model: str | None = Field(default=None, min_length=1, max_length=200)
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None


ApprovalStrategy = Literal["NONE", "ON_START", "ON_TOOL_CALL"]


class ApprovalRule(_Strict):
    """Ask for approval of calls to ``tool`` (``*``: any), when ``when`` holds if given."""

    tool: str = Field(min_length=1, max_length=200)
    when: str | None = Field(default=None, max_length=500, examples=["amount > 500"])


class ApprovalExpiry(_Strict):
    """How long an approval may wait, and what happens then."""

    seconds: float = Field(gt=0, le=30 * 24 * 3600)
    default_action: Literal["approve", "reject", "cancel"] = "reject"


class Notify(_Strict):
    """Where to tell that a run needs approval or has ended."""

    webhook: str | None = Field(default=None, pattern=r"^https?://", max_length=2000)


class Usage(BaseModel):
    """Tokens of model calls: input (cached ones among them) and output (reasoning among them)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0


class Credits(BaseModel):
    """Credits (1 credit = 1 US cent of model cost): estimated before the run, and spent."""

    estimated: float | None = None
    actual: float | None = None


class Ceiling(_Strict):
    """Limits a run may never pass: a model call that would pass one fails the run."""

    credits: float | None = Field(default=None, ge=0)
    tokens: int | None = Field(default=None, ge=0)


class RunBudget(_Strict):
    """A run's budget: past ``credits``/``tokens`` it pauses, past ``hard_ceiling`` it fails."""

    credits: float | None = Field(default=None, ge=0)
    tokens: int | None = Field(default=None, ge=0)
    hard_ceiling: Ceiling | None = None
    # Overruns approved (``POST /v1/runs/{id}/budget/approve``), on top of the limits.
    approved: Ceiling | None = None


class RunCreate(_Strict):
    """The body of ``POST /v1/runs``; only ``agent_id`` is required."""

    agent_id: str | None = Field(default=None, min_length=1, max_length=200)
    revision_id: str | None = None
    name: str | None = Field(default=None, max_length=500)
    input: Any = None
    variables: dict[str, Any] = {}
    context: dict[str, Any] = {}
    user_id: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] = {}
    model: ModelSettings | None = None
    # Step agents: per step name, the model and reasoning effort this run uses instead.
    step_overrides: dict[str, StepOverride] | None = Field(default=None, max_length=50)
    timeout_seconds: float | None = Field(default=None, gt=0, le=7 * 24 * 3600)
    parent_run_id: str | None = None
    trigger: Trigger = "api"
    integrations: list[str] | Literal["*"] | None = None
    approval: ApprovalStrategy = "NONE"
    approval_rules: list[ApprovalRule] | None = None
    approval_expiry: ApprovalExpiry | None = None
    notify: Notify | None = None
    file_ids: list[str] | None = Field(default=None, max_length=100)
    site_ids: list[str] | None = Field(default=None, max_length=20)
    budget: RunBudget | None = None
    wait: float | None = Field(default=None, ge=0, le=600)


class RunRerun(_Strict):
    """The body of ``POST /v1/runs/{id}/rerun``."""

    from_step: int | None = Field(default=None, ge=1, le=INT32_MAX)
    wait: float | None = Field(default=None, ge=0, le=600)


class RunRepair(_Strict):
    """The body of ``POST /v1/runs/{id}/repair``: what to do with a stalled or lost run, and why."""

    action: Literal["resume", "fail"]
    reason: str = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _reason_says_something(self) -> "RunRepair":
        """A reason of only blanks is no reason."""
        if not self.reason.strip():
            raise ValueError("reason must not be blank")
        self.reason = self.reason.strip()
        return self


class RunDuplicate(_Strict):
    """The body of ``POST /v1/runs/{id}/duplicate``: overrides of the original."""

    input: Any = None
    variables: dict[str, Any] | None = None
    name: str | None = Field(default=None, max_length=500)
    wait: float | None = Field(default=None, ge=0, le=600)


class RunErrorInfo(BaseModel):
    """Why a run failed."""

    code: str
    message: str
    step: int | None = None
    retryable: bool = False


class FileHold(BaseModel):
    """A legal hold on a file: why, which key put it, when; the file is not deleted meanwhile."""

    reason: str
    by: str | None = None
    at: datetime | None = None


class FileHoldCreate(_Strict):
    """The body of ``POST /v1/files/{id}/hold``: why the file is held."""

    reason: str = Field(min_length=1, max_length=1000)


class FilePublic(BaseModel):
    """A file: an upload into a site, or an artifact a run's step saved."""

    id: str
    object: Literal["file"] = "file"
    name: str
    media_type: str
    size: int
    sha256: str
    site_id: str | None = None
    run_id: str | None = None
    step: int | None = None
    created_at: datetime
    hold: FileHold | None = None

    @model_validator(mode="before")
    @classmethod
    def _hold_of_record(cls, data: Any) -> Any:
        """A record's ``hold_*`` columns as one ``hold`` object (None when not held)."""
        if isinstance(data, dict) and "hold" not in data and "hold_reason" in data:
            reason = data.get("hold_reason")
            hold = (
                None
                if reason is None
                else {"reason": reason, "by": data.get("hold_by"), "at": data.get("hold_at")}
            )
            return {**data, "hold": hold}
        return data


class RunResult(BaseModel):
    """What a run produced: a markdown document or a JSON value, with its sources and files."""

    type: Literal["document", "json"]
    content: Any = None
    sources: list[dict[str, Any]] = []
    # What its steps saved: id, name, media_type, size, sha256, step (download by id).
    files: list[dict[str, Any]] = []


class RunCancelReceipt(BaseModel):
    """The proof that a canceled run stopped."""

    requested_at: datetime
    stopped_at: datetime
    step: int | None = None
    children_ended: bool = True
    reason: str | None = None


class RunPublic(BaseModel):
    """A run as the API shows it."""

    id: str
    object: Literal["run"] = "run"
    agent_id: str
    agent_name: str
    revision_id: str
    name: str | None = None
    status: RunStatusName
    trigger: str
    input: Any = None
    variables: dict[str, Any] = {}
    context: dict[str, Any] | None = None
    user_id: str | None = None
    metadata: dict[str, Any] = {}
    model: dict[str, Any] | None = None
    step_overrides: dict[str, Any] = {}
    timeout_seconds: float | None = None
    parent_run_id: str | None = None
    rerun_of: str | None = None
    from_step: int | None = None
    # A replay's recorded run: its tool calls were answered from that run's, not made.
    replay_of: str | None = None
    integrations: list[str] | Literal["*"] = []
    approval: ApprovalStrategy = "NONE"
    approval_rules: list[dict[str, Any]] = []
    approval_expiry: dict[str, Any] | None = None
    notify: dict[str, Any] | None = None
    file_ids: list[str] = []
    site_ids: list[str] = []
    plan: dict[str, Any] | None = None
    waiting_on: dict[str, Any] | None = None
    archived: bool = False
    steps_finished: int = 0
    step_count: int = 0
    result: RunResult | None = None
    error: RunErrorInfo | None = None
    cancel_requested_at: datetime | None = None
    cancel_receipt: RunCancelReceipt | None = None
    created_at: datetime
    started_at: datetime | None = None
    updated_at: datetime
    finished_at: datetime | None = None
    last_completed_at: datetime | None = None
    # The process that executes the run, or executed its last attempt (admin keys only).
    executor_id: str | None = None
    # The trigger that started the run (``trigger`` is its kind), if one did.
    trigger_id: str | None = None
    # Its model calls' token totals, and credits estimated before it started and spent.
    usage: Usage = Field(default_factory=lambda: Usage())
    credits: Credits = Field(default_factory=lambda: Credits())
    budget: RunBudget | None = None
    # The governance policy version in force when the run was created.
    policy_version: int | None = None
    # A running run's liveness (working, stalled or lost; None for any other run) and its
    # last event's time (docs/operations.md, "Run liveness and repair").
    liveness: Literal["working", "stalled", "lost"] | None = None
    last_progress_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _credits_of_record(cls, data: Any) -> Any:
        """A record's ``credits_*`` columns as one ``credits`` object; no usage as zeros."""
        if isinstance(data, dict) and "credits" not in data and "credits_actual" in data:
            credits = {
                "estimated": data.get("credits_estimated"),
                "actual": data.get("credits_actual"),
            }
            return {**data, "credits": credits, "usage": data.get("usage") or {}}
        return data


class StepPublic(BaseModel):
    """One step of a run."""

    number: int
    name: str
    status: Literal["running", "completed", "failed", "reused"]
    output: Any = None
    error: RunErrorInfo | None = None
    reused_from: str | None = None
    # A model call's: the model that answered, the effort asked for, tokens and credits.
    model: str | None = None
    reasoning_effort: str | None = None
    usage: Usage | None = None
    credits: float | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    files: list[FilePublic] = []

    @model_validator(mode="before")
    @classmethod
    def _usage_of_record(cls, data: Any) -> Any:
        """A record's four token columns as one ``usage`` object (None on other steps)."""
        if isinstance(data, dict) and "usage" not in data and "input_tokens" in data:
            keys = ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")
            usage = (
                None if data.get("input_tokens") is None else {k: data.get(k) or 0 for k in keys}
            )
            return {**data, "usage": usage}
        return data


class EventPublic(BaseModel):
    """One entry of a run's event log."""

    run_id: str
    seq: int
    type: str
    at: datetime
    data: dict[str, Any] = {}
    hash: str
    prev_hash: str


class VerifyResult(BaseModel):
    """The outcome of checking a run's hash-chained event log."""

    ok: bool
    events: int
    first_bad_seq: int | None = None
    # A deleted run is answered from its tombstone (its events are gone, its head is kept).
    deleted: bool = False
    last_hash: str | None = None


class RevisionPublic(BaseModel):
    """An immutable snapshot of an agent's definition."""

    id: str
    agent_id: str
    stage: Literal["draft", "published"]
    hash: str
    config: dict[str, Any] = {}
    created_at: datetime
    published_at: datetime | None = None


class AgentPublic(BaseModel):
    """An agent and its current published revision."""

    id: str
    name: str
    kind: Literal["python", "langgraph", "steps"]
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    output: Literal["document", "json"] = "json"
    output_schema: dict[str, Any] | None = None
    published_revision_id: str | None = None
    last_completed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class ApprovalDecision(_Strict):
    """A decision: approve or reject (a tool call may get edited ``arguments``).

    An ``in_doubt`` approval takes ``action``: ``repeat`` the call, ``skip`` it with
    ``result`` as its output, or ``fail`` the run; ``approve`` means repeat and
    ``reject`` means fail.
    """

    decision: Literal["approve", "reject"] | None = None
    action: Literal["repeat", "skip", "fail"] | None = None
    comment: str | None = Field(default=None, max_length=5000)
    arguments: dict[str, Any] | None = None
    result: Any = None


class LinkToken(_Strict):
    """An approval link's token, sent in a body so that no URL (and no log) carries it."""

    token: str = Field(min_length=1, max_length=2000)


class LinkDecision(ApprovalDecision):
    """A decision by a signed link: the link's token and the decision, in one body."""

    token: str = Field(min_length=1, max_length=2000)


class ApprovalLink(BaseModel):
    """A new link for a pending approval: shown once, to the key that asked for it."""

    approval_id: str
    link: str
    token: str
    expires_at: datetime


class ApprovalPublic(BaseModel):
    """A decision a run waits for (or waited for).

    ``link`` is the pending approval's current link, shown only to keys that may decide
    it; ``decided_via`` says how it was decided (``api``, ``console`` or ``link``; none
    when the system did), ``decided_by_key_id`` which key (a console session's key).
    """

    id: str
    object: Literal["approval"] = "approval"
    run_id: str
    kind: Literal["plan", "tool_call", "in_doubt"]
    status: Literal["pending", "approved", "rejected", "canceled"]
    request: dict[str, Any] = {}
    decision: str | None = None
    arguments: dict[str, Any] | None = None
    result: Any = None
    comment: str | None = None
    decided_by: str | None = None
    decided_by_key_id: str | None = None
    decided_via: Literal["api", "console", "link"] | None = None
    decided_at: datetime | None = None
    expires_at: datetime | None = None
    default_action: str | None = None
    link: str | None = None
    link_expires_at: datetime | None = None
    link_revoked_at: datetime | None = None
    created_at: datetime


class ToolPublic(BaseModel):
    """A tool agents may call, with the JSON Schema of its arguments."""

    name: str
    description: str = ""
    integration: str | None = None
    requires_auth: bool = False
    rate_limit: str | None = None
    idempotent: bool = False
    always_approve: bool = False
    parameters: dict[str, Any] = {}


class IntegrationPublic(BaseModel):
    """An integration: a named external system and the tools that reach it."""

    name: str
    requires_auth: bool = False
    rate_limits: list[str] = []
    tools: list[ToolPublic] = []


class ConnectionPut(_Strict):
    """A user's credential for an integration (stored encrypted)."""

    secret: str = Field(min_length=1, max_length=20000)


class ConnectionPublic(BaseModel):
    """A user's connection, without its secret."""

    user_id: str
    integration: str
    created_at: datetime
    updated_at: datetime
    resumed_runs: list[str] = []


class CustomerIntegrationCreate(_Strict):
    """The body of ``POST /v1/customer-integrations``: install a catalog integration."""

    integration: str = Field(min_length=1, max_length=100)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    active: bool = True
    settings: dict[str, Any] = {}


class CustomerIntegrationUpdate(_Strict):
    """The body of ``PATCH /v1/customer-integrations/{id}``: what changes."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    active: bool | None = None
    settings: dict[str, Any] | None = None


class CustomerIntegrationPublic(BaseModel):
    """An integration of the catalog the tenant installed, under its own id."""

    id: str
    object: Literal["customer_integration"] = "customer_integration"
    integration: str
    name: str
    active: bool
    settings: dict[str, Any] = {}
    created_at: datetime
    updated_at: datetime


class SiteCreate(_Strict):
    """The body of ``POST /v1/sites``: a name unique in the tenant."""

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^/]+$")
    description: str | None = Field(default=None, max_length=2000)


class SitePublic(BaseModel):
    """A site: a named collection of the tenant's files."""

    id: str
    object: Literal["site"] = "site"
    name: str
    description: str | None = None
    created_at: datetime
    updated_at: datetime


WebhookEvent = Literal[
    "run.queued",
    "run.started",
    "run.resumed",
    "run.paused",
    "run.auth_required",
    "run.succeeded",
    "run.failed",
    "run.canceled",
    "*",
]


class WebhookEndpointCreate(_Strict):
    """The body of ``POST /v1/webhook-endpoints``: where and which lifecycle events go."""

    url: str = Field(pattern=r"^https?://", max_length=2000)
    events: list[WebhookEvent] = Field(default=["*"], min_length=1, max_length=9)
    secret: str | None = Field(default=None, pattern=r"^whsec_[A-Za-z0-9+/=]{16,200}$")
    enabled: bool = True
    description: str | None = Field(default=None, max_length=500)


class WebhookEndpointUpdate(_Strict):
    """The body of ``PATCH /v1/webhook-endpoints/{id}``: what changes."""

    url: str | None = Field(default=None, pattern=r"^https?://", max_length=2000)
    events: list[WebhookEvent] | None = Field(default=None, min_length=1, max_length=9)
    secret: str | None = Field(default=None, pattern=r"^whsec_[A-Za-z0-9+/=]{16,200}$")
    enabled: bool | None = None
    description: str | None = Field(default=None, max_length=500)


class WebhookEndpointPublic(BaseModel):
    """A tenant's lifecycle webhook endpoint; its secret is never shown."""

    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    url: str
    events: list[str]
    enabled: bool
    own_secret: bool  # signed with its own secret, not the tenant's
    description: str | None = None
    disabled_reason: str | None = None
    created_at: datetime
    updated_at: datetime


class WebhookAttemptPublic(BaseModel):
    """One try of a delivery: the answer's status, how long it took, what it said."""

    number: int
    at: datetime
    status_code: int | None = None
    latency_ms: float
    response: str | None = None
    error: str | None = None


class WebhookDeliveryPublic(BaseModel):
    """One lifecycle event for one target; its ``id`` is the ``webhook-id`` it is sent with."""

    id: str
    object: Literal["webhook_delivery"] = "webhook_delivery"
    endpoint_id: str | None = None  # None: the run's own ``notify`` webhook
    run_id: str
    seq: int  # the run's event it announces: a run's deliveries go out in this order
    event: str
    payload: dict[str, Any]
    status: Literal["pending", "delivered", "failed"]
    attempt_count: int
    next_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
    attempts: list[WebhookAttemptPublic] | None = None  # on ``GET …/deliveries/{id}``
