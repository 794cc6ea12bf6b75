"""The tables, in SQLAlchemy Core; Alembic migrations must match this file."""

from datetime import UTC, datetime

import sqlalchemy as sa

metadata = sa.MetaData()


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware in UTC (SQLite forgets zones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Store UTC."""
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Read back as aware UTC."""
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


TS = UTCDateTime()

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("policy_version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_at", TS, nullable=False),
    # Quota overrides set by an admin key; None means the server's default.
    sa.Column("max_running", sa.Integer),
    sa.Column("max_queued", sa.Integer),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("name", sa.String(200)),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("user_id", sa.String(200)),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("revoked_at", TS),
)

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("published_revision_id", sa.String(40)),
    # An A/B split of new runs (issue 17): {"revision_a", "revision_b", "percent_b"}; None: off.
    sa.Column("split", sa.JSON),
    sa.Column("last_completed_at", TS),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("tenant_id", "name", name="uq_agents_tenant_name"),
)

revisions = sa.Table(
    "revisions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("agent_id", sa.String(40), sa.ForeignKey("agents.id"), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("stage", sa.String(20), nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("published_at", TS),
    sa.UniqueConstraint("agent_id", "hash", name="uq_revisions_agent_hash"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("agent_id", sa.String(40), nullable=False),
    sa.Column("agent_name", sa.String(64), nullable=False),
    sa.Column("revision_id", sa.String(40), nullable=False),
    sa.Column("name", sa.String(500)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("trigger", sa.String(20), nullable=False),
    sa.Column("input", sa.JSON),
    sa.Column("variables", sa.JSON, nullable=False),
    sa.Column("context", sa.JSON, nullable=False),
    sa.Column("user_id", sa.String(200)),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("model", sa.JSON),
    sa.Column("timeout_seconds", sa.Float, nullable=False),
    sa.Column("parent_run_id", sa.String(40)),
    sa.Column("rerun_of", sa.String(40)),
    sa.Column("from_step", sa.Integer),
    sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("steps_finished", sa.Integer, nullable=False, server_default="0"),
    sa.Column("step_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("result", sa.JSON),
    sa.Column("error", sa.JSON),
    sa.Column("cancel_requested_at", TS),
    sa.Column("cancel_receipt", sa.JSON),
    sa.Column("last_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_hash", sa.String(64), nullable=False),
    sa.Column("last_op", sa.Integer, nullable=False, server_default="0"),
    sa.Column("integrations", sa.JSON),
    sa.Column("approval", sa.String(20), nullable=False, server_default="NONE"),
    sa.Column("approval_rules", sa.JSON),
    sa.Column("approval_expiry", sa.JSON),
    sa.Column("notify", sa.JSON),
    sa.Column("plan", sa.JSON),
    sa.Column("waiting_on", sa.JSON),
    sa.Column("segment", sa.Integer, nullable=False, server_default="0"),
    sa.Column("active_seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("resumed_at", TS),
    # A LangGraph run: its thread, assistant and the Agent Protocol options it was given.
    sa.Column("thread_id", sa.String(64)),
    sa.Column("assistant_id", sa.String(64)),
    sa.Column("graph", sa.JSON),
    # The tenant's governance policy version in force when the run was created.
    sa.Column("policy_version", sa.Integer),
    # Fields the retention sweep removed: {field: {"sha256", "at", "policy_version"}}.
    sa.Column("redacted", sa.JSON),
    # The key that started the run: it may not decide the run's approvals (self-approval).
    sa.Column("created_by_key_id", sa.String(64)),
    # The files and sites the run was given to read (``ctx.files``).
    sa.Column("file_ids", sa.JSON),
    sa.Column("site_ids", sa.JSON),
    # Admission: when the run was handed to the engine (None: held by its tenant's quota
    # or until ``not_before``, its scheduled start); see engine/admission.py.
    sa.Column("admitted_at", TS),
    sa.Column("not_before", TS),
    # The process that executes the run (or executed its last attempt): its executor id.
    sa.Column("executor_id", sa.String(200)),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("started_at", TS),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("finished_at", TS),
    # Fencing (docs/architecture.md, "Failover"): the executor whose attempt holds the run
    # (None while it waits), and the epoch every write of that attempt must find; a
    # takeover or a new attempt moves the epoch on, so a stale owner's writes match nothing.
    sa.Column("owner", sa.String(200)),
    sa.Column("epoch", sa.Integer, nullable=False, server_default="0"),
    # The trigger that started the run (its kind is ``trigger``); None for other runs.
    sa.Column("trigger_id", sa.String(40)),
    # Model usage (issue 15): token totals of the run's model calls, the credits estimated
    # before it started and spent so far, and the budget it was given (``engine/metering.py``).
    sa.Column("usage", sa.JSON),
    sa.Column("credits_estimated", sa.Float),
    sa.Column("credits_actual", sa.Float),
    sa.Column("budget", sa.JSON),
    # A replay (issue 17): the recorded run whose tool outputs and files this run is given
    # instead of calling its tools; None for every other run.
    sa.Column("replay_of", sa.String(40)),
    # The W3C traceparent of the request that created the run (engine/tracing.py): its
    # spans join that trace in whichever process executes it. None: traces were off.
    sa.Column("traceparent", sa.String(55)),
    sa.Index("ix_runs_tenant_created", "tenant_id", "created_at", "id"),
    sa.Index("ix_runs_tenant_admission", "tenant_id", "status", "admitted_at"),
    sa.Index("ix_runs_tenant_agent", "tenant_id", "agent_id", "created_at"),
    sa.Index("ix_runs_status", "status"),
    sa.Index("ix_runs_thread", "tenant_id", "thread_id", "created_at"),
    sa.Index("ix_runs_owner", "owner"),
)

steps = sa.Table(
    "steps",
    metadata,
    sa.Column("run_id", sa.String(40), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("output", sa.JSON),
    sa.Column("error", sa.JSON),
    sa.Column("reused_from", sa.String(40)),
    sa.Column("model", sa.String(200)),
    # A model call's settings, tokens and credits (None on other steps).
    sa.Column("reasoning_effort", sa.String(20)),
    sa.Column("input_tokens", sa.Integer),
    sa.Column("output_tokens", sa.Integer),
    sa.Column("cached_tokens", sa.Integer),
    sa.Column("reasoning_tokens", sa.Integer),
    sa.Column("credits", sa.Float),
    sa.Column("started_at", TS),
    sa.Column("finished_at", TS),
)

# Budgets of model usage per tenant or agent (a run's own is its ``budget`` column):
# ``target`` is the agent's name (scope ``agent``) or "" (scope ``tenant``).
budgets = sa.Table(
    "budgets",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("scope", sa.String(20), primary_key=True),
    sa.Column("target", sa.String(64), primary_key=True),
    sa.Column("credits", sa.Float),
    sa.Column("tokens", sa.BigInteger),
    sa.Column("hard_credits", sa.Float),
    sa.Column("hard_tokens", sa.BigInteger),
    sa.Column("period", sa.String(10), nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("run_id", sa.String(40), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
)

# Agent Protocol stream parts on their way from the worker that runs a graph to listeners
# on other API nodes (graphs/relay.py); kept minutes, not for the record. ``id`` orders
# them (AUTOINCREMENT on SQLite: ids never go back after a prune); a listener's ``join``
# row marks where its stream starts.
stream_parts = sa.Table(
    "stream_parts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("data", sa.JSON),
    sa.Column("at", TS, nullable=False),
    sa.Index("ix_stream_parts_run", "run_id", "id"),
    sa.Index("ix_stream_parts_at", "at"),
    sqlite_autoincrement=True,
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

executors = sa.Table(
    "executors",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("worker", sa.Boolean, nullable=False),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("heartbeat_at", TS, nullable=False),
    # The process's connection budget (Postgres), summed to check the fleet at start.
    sa.Column("db_connections", sa.Integer, nullable=True),
    sa.Column("host", sa.String(200), nullable=True),
    sa.Column("role", sa.String(16), nullable=True),
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("key", sa.String(80), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("request", sa.JSON, nullable=False),
    sa.Column("decision", sa.String(20)),
    sa.Column("arguments", sa.JSON),
    sa.Column("result", sa.JSON),
    sa.Column("comment", sa.Text),
    sa.Column("decided_by", sa.String(200)),
    sa.Column("decided_at", TS),
    sa.Column("expires_at", TS),
    sa.Column("default_action", sa.String(20)),
    sa.Column("token_hash", sa.String(64)),
    sa.Column("token_used_at", TS),
    # Who decided and how (api, console, link); the key is the console session's for console.
    sa.Column("decided_by_key_id", sa.String(64)),
    sa.Column("decided_via", sa.String(20)),
    # The current link's token, sealed with the server's Fernet keys: shown to deciders only.
    sa.Column("link_sealed", sa.Text),
    sa.Column("link_expires_at", TS),
    sa.Column("link_revoked_at", TS),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("run_id", "key", name="uq_approvals_run_key"),
    sa.Index("ix_approvals_tenant_status", "tenant_id", "status", "created_at"),
)

connections = sa.Table(
    "connections",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("user_id", sa.String(200), primary_key=True),
    sa.Column("integration", sa.String(100), primary_key=True),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

webhook_secrets = sa.Table(
    "webhook_secrets",
    metadata,
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("secret", sa.Text, nullable=False),  # sealed, as connections' secrets are
    sa.Column("previous_secret", sa.Text),
    sa.Column("previous_valid_until", TS),
    sa.Column("created_at", TS, nullable=False),
)

# Lifecycle webhooks: a tenant's endpoints, and the outbox of deliveries (one row per
# event and target, written in the transaction of the run's move) with their attempts.
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("id", sa.String(40), primary_key=True),  # ``whe_…``
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("events", sa.JSON, nullable=False),  # ["run.failed", …] or ["*"]
    sa.Column("secret", sa.Text),  # sealed; None: the tenant's signing secret
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("description", sa.String(500)),
    sa.Column("disabled_reason", sa.String(200)),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # ``msg_…``: the webhook-id
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("target", sa.String(40), nullable=False),  # an endpoint's id, or "notify"
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),  # the run's event seq: the order
    sa.Column("status", sa.String(16), nullable=False),  # pending, delivered, failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", TS, nullable=False),
    sa.Column("retry_until", TS, nullable=False),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("finished_at", TS),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_run", "run_id", "target", "position"),
    sa.Index("ix_webhook_deliveries_tenant", "tenant_id", "created_at", "id"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("delivery_id", sa.String(40), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("response", sa.String(500)),  # the answer's first 500 characters
    sa.Column("error", sa.Text),
)

rate_buckets = sa.Table(
    "rate_buckets",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

tool_records = sa.Table(
    "tool_records",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("collection", sa.String(100), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Index("ix_tool_records_collection", "tenant_id", "collection", "created_at"),
)

customer_integrations = sa.Table(
    "customer_integrations",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("id", sa.String(140), primary_key=True),  # ``calendar_ab12cd34``: per tenant
    sa.Column("integration", sa.String(100), nullable=False),  # a name of the catalog
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("settings", sa.JSON, nullable=False),  # not secret: secrets are connections
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Index("ix_customer_integrations_tenant_created", "tenant_id", "created_at", "id"),
)

# Sites and files (docs/api.md, "Sites and files"). A file is an upload into a site or
# an artifact a run's step made (``run_id``, ``step``: 0 before the first step); its
# bytes are a blob keyed by tenant and sha256, in ``blobs`` or in the configured store.
sites = sa.Table(
    "sites",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("tenant_id", "name", name="uq_sites_tenant_name"),
    sa.Index("ix_sites_tenant_created", "tenant_id", "created_at", "id"),
)

files = sa.Table(
    "files",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("site_id", sa.String(40)),
    sa.Column("run_id", sa.String(40)),
    sa.Column("step", sa.Integer),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("media_type", sa.String(255), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    # A legal hold: while set, the file is not deleted (services/files.py).
    sa.Column("hold_reason", sa.String(1000)),
    sa.Column("hold_by", sa.String(64)),
    sa.Column("hold_at", TS),
    # One artifact of a name per step: a replayed step finds it instead of saving twice.
    sa.UniqueConstraint("run_id", "step", "name", name="uq_files_run_step_name"),
    sa.Index("ix_files_tenant_created", "tenant_id", "created_at", "id"),
    sa.Index("ix_files_site", "tenant_id", "site_id", "created_at"),
    sa.Index("ix_files_sha", "tenant_id", "sha256"),
)

blobs = sa.Table(
    "blobs",
    metadata,
    sa.Column("key", sa.String(120), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

# Triggers start runs of an agent: on a schedule (cron), on a signed webhook, and later on
# an upload (``options`` holds what a kind needs beyond these columns) or from an agent.
triggers = sa.Table(
    "triggers",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # ``trg_…``: the webhook URL names it
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # schedule | webhook | upload | agent
    sa.Column("name", sa.String(200)),
    sa.Column("agent_id", sa.String(40), nullable=False),
    sa.Column("revision_id", sa.String(40)),  # None: the agent's published revision
    sa.Column("input", sa.JSON),
    sa.Column("variables", sa.JSON, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("user_id", sa.String(200)),  # the user its runs act as
    sa.Column("created_by_key_id", sa.String(64)),
    # schedule
    sa.Column("schedule", sa.String(200)),
    sa.Column("timezone", sa.String(64)),
    sa.Column("start_at", TS),
    sa.Column("end_at", TS),
    sa.Column("catch_up", sa.String(10)),  # once | skip
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("next_fire_at", TS),  # the next tick; claimed by compare-and-set
    sa.Column("last_fired_at", TS),
    # webhook: the signing secret (sealed) and body-to-input mapping (JSON Pointers)
    sa.Column("secret", sa.Text),
    sa.Column("mapping", sa.JSON),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("last_run_id", sa.String(40)),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Index("ix_triggers_tenant_created", "tenant_id", "created_at", "id"),
    sa.Index("ix_triggers_due", "enabled", "paused", "next_fire_at"),
)

# LangGraph's resources (Agent Protocol). Checkpoints and store items live in the
# tables of langgraph's own SQLite / Postgres savers, set up beside these.

assistants = sa.Table(
    "assistants",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("graph_id", sa.String(64), nullable=False),
    sa.Column("agent_id", sa.String(40), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("context", sa.JSON, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Index("ix_assistants_tenant_graph", "tenant_id", "graph_id"),
)

assistant_versions = sa.Table(
    "assistant_versions",
    metadata,
    sa.Column("assistant_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("revision_id", sa.String(40), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("context", sa.JSON, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

# A thread's id is chosen by its caller: two tenants may use the same one.
threads = sa.Table(
    "threads",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("values", sa.JSON),
    sa.Column("interrupts", sa.JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Index("ix_threads_tenant_created", "tenant_id", "created_at"),
)

crons = sa.Table(
    "crons",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("assistant_id", sa.String(64), nullable=False),
    sa.Column("thread_id", sa.String(64)),
    sa.Column("schedule", sa.String(200), nullable=False),
    sa.Column("timezone", sa.String(64)),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("on_run_completed", sa.String(20)),
    sa.Column("end_time", TS),
    sa.Column("next_run_date", TS),
    sa.Column("user_id", sa.String(200)),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Index("ix_crons_due", "enabled", "next_run_date"),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("actor_key_id", sa.String(64)),
    # How the actor acted: api, console, link, trigger, schedule, agent or system.
    sa.Column("actor_type", sa.String(20), nullable=False, server_default="api"),
    sa.Column("actor_role", sa.String(20)),
    sa.Column("actor_user_id", sa.String(200)),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("target_type", sa.String(40), nullable=False),
    sa.Column("target_id", sa.String(200)),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Index("ix_audit_events_tenant_at", "tenant_id", "at", "id"),
    sa.Index("ix_audit_events_tenant_target", "tenant_id", "target_type", "target_id"),
)

# Governance: versioned policies, legal holds, tombstones of deleted runs, deletion
# requests awaiting approval, evidence exports and the keys that sign them.
governance_policies = sa.Table(
    "governance_policies",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("created_by_key_id", sa.String(64)),
)

legal_holds = sa.Table(
    "legal_holds",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("scope", sa.String(20), nullable=False),  # run | agent | query
    sa.Column("run_id", sa.String(40)),
    sa.Column("agent_id", sa.String(40)),
    sa.Column("query", sa.JSON),  # scope query: agent_id, created_after, created_before, status
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("created_by_key_id", sa.String(64)),
    sa.Column("released_at", TS),
    sa.Column("released_by_key_id", sa.String(64)),
    sa.Index("ix_legal_holds_tenant", "tenant_id", "released_at"),
)

run_tombstones = sa.Table(
    "run_tombstones",
    metadata,
    sa.Column("run_id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("agent_id", sa.String(40), nullable=False),
    # The agent's name: usage totals per agent still count a deleted run's metered steps.
    sa.Column("agent_name", sa.String(200)),
    sa.Column("revision_id", sa.String(40)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("finished_at", TS),
    sa.Column("policy_version", sa.Integer),
    sa.Column("last_seq", sa.Integer, nullable=False),
    sa.Column("last_hash", sa.String(64), nullable=False),
    sa.Column("hashes", sa.JSON, nullable=False),  # sha256 of input, result, steps, files
    sa.Column("deleted_at", TS, nullable=False),
    sa.Column("deleted_by", sa.String(100), nullable=False),  # key id, or "retention"
    sa.Column("reason", sa.Text, nullable=False),
    sa.Index("ix_run_tombstones_tenant", "tenant_id", "deleted_at"),
)

deletion_requests = sa.Table(
    "deletion_requests",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # pending | approved | rejected
    sa.Column("requested_at", TS, nullable=False),
    sa.Column("requested_by_key_id", sa.String(64)),
    sa.Column("decided_at", TS),
    sa.Column("decided_by_key_id", sa.String(64)),
    sa.Column("comment", sa.Text),
    sa.Index("ix_deletion_requests_tenant", "tenant_id", "status"),
)

# The retention sweep's claim: the process whose conditional update moves ``started_at``
# sweeps; the others find it recent and skip (one sweep per interval across processes).
retention_sweeps = sa.Table(
    "retention_sweeps",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("owner", sa.String(100)),
)

evidence_exports = sa.Table(
    "evidence_exports",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("query", sa.JSON, nullable=False),  # run_ids, or agent_id/created range/status
    sa.Column("status", sa.String(20), nullable=False),  # queued | running | succeeded | failed
    sa.Column("runs_total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("runs_done", sa.Integer, nullable=False, server_default="0"),
    sa.Column("bytes", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("sha256", sa.String(64)),
    sa.Column("location", sa.Text),  # where the finished zip is kept
    sa.Column("signing_key_id", sa.String(40)),
    sa.Column("error", sa.JSON),
    sa.Column("owner", sa.String(100)),  # the process building it (a crash hands it on)
    sa.Column("heartbeat_at", TS),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("created_by_key_id", sa.String(64)),
    sa.Column("finished_at", TS),
    sa.Index("ix_evidence_exports_tenant", "tenant_id", "created_at"),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("algorithm", sa.String(20), nullable=False),  # Ed25519
    sa.Column("public_key", sa.Text, nullable=False),  # PEM (SubjectPublicKeyInfo)
    sa.Column("private_key", sa.Text, nullable=False),  # sealed, as connections' secrets are
    sa.Column("created_at", TS, nullable=False),
    sa.Column("retired_at", TS),  # rotated out: no longer signs, still verifies
    sa.Index("ix_signing_keys_tenant", "tenant_id", "retired_at"),
    # One active key per tenant: two first exports at once must not make two.
    sa.Index(
        "uq_signing_keys_active",
        "tenant_id",
        unique=True,
        sqlite_where=sa.text("retired_at IS NULL"),
        postgresql_where=sa.text("retired_at IS NULL"),
    ),
)

# The model catalogue: a tenant's own entries (prices, context windows) over the built-in
# ones (``providers.catalog``), and the model providers a tenant brings its own keys for.
tenant_models = sa.Table(
    "tenant_models",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("provider", sa.String(100), nullable=False),  # a kind, or a model_providers name
    sa.Column("context_window", sa.Integer, nullable=False),
    sa.Column("input_per_mtok", sa.Float, nullable=False),  # US dollars per million tokens
    sa.Column("output_per_mtok", sa.Float, nullable=False),
    sa.Column("cached_per_mtok", sa.Float, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

model_providers = sa.Table(
    "model_providers",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),  # openai | anthropic
    sa.Column("base_url", sa.Text),
    sa.Column("api_key", sa.Text),  # sealed, as connections' secrets are
    sa.Column("key_hint", sa.String(20)),  # the key's last characters, to tell keys apart
    sa.Column("default_model", sa.String(200)),
    sa.Column("is_default", sa.Boolean, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

# -- benchmarks (issue 17) -----------------------------------------------------------------

benchmarks = sa.Table(
    "benchmarks",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # bch_…
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("agent_id", sa.String(40), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("scorers", sa.JSON, nullable=False),  # [ScorerSpec as JSON]
    # Scoring of finished production runs: {"sample_percent": 0–100}; None: off.
    sa.Column("on_completion", sa.JSON),
    # Pass thresholds per scorer name, and whether publishing needs a passing gate:
    # {"required": bool, "thresholds": {scorer: min}, "replay_runs": N}; None: no gate.
    sa.Column("gate", sa.JSON),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("tenant_id", "agent_id", "name", name="uq_benchmarks_agent_name"),
)

benchmark_cases = sa.Table(
    "benchmark_cases",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # bcs_…
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("benchmark_id", sa.String(40), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("input", sa.JSON),
    sa.Column("variables", sa.JSON, nullable=False),
    sa.Column("expected", sa.JSON),  # the reference output (None: scorers need none)
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("file_ids", sa.JSON),
    sa.Column("source_run_id", sa.String(40)),  # saved from this run ("save as case")
    sa.Column("created_at", TS, nullable=False),
    sa.Index("ix_benchmark_cases_benchmark", "tenant_id", "benchmark_id", "created_at", "id"),
)

# A suite run: one revision's runs of a benchmark's cases (kind ``suite``), or replays of
# recorded production runs (kind ``replay``, the publish gate), scored together.
benchmark_suites = sa.Table(
    "benchmark_suites",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # bsu_…
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("agent_id", sa.String(40), nullable=False),
    sa.Column("revision_id", sa.String(40), nullable=False),
    sa.Column("benchmark_id", sa.String(40)),
    sa.Column("kind", sa.String(20), nullable=False),  # suite | replay
    sa.Column("status", sa.String(20), nullable=False),  # running | succeeded | failed | cancelled
    sa.Column("scorers", sa.JSON, nullable=False),
    sa.Column("thresholds", sa.JSON, nullable=False),  # {scorer: min pass rate or mean}
    sa.Column("concurrency", sa.Integer, nullable=False),
    sa.Column("case_count", sa.Integer, nullable=False),
    sa.Column("summary", sa.JSON),  # per scorer pass rate and mean, latency p50/p95, credits
    sa.Column("passed", sa.Boolean),  # every threshold met (None: not finished)
    sa.Column("owner", sa.String(200)),  # the process driving it (resumed when it is gone)
    sa.Column("created_by_key_id", sa.String(64)),
    sa.Column("cancel_requested_at", TS),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("finished_at", TS),
    sa.Index("ix_benchmark_suites_agent", "tenant_id", "agent_id", "created_at", "id"),
    sa.Index("ix_benchmark_suites_status", "status"),
)

# One scored run: a suite's case, a replay, a sampled production run or a manual score.
benchmark_results = sa.Table(
    "benchmark_results",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # bre_…
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("agent_id", sa.String(40), nullable=False),
    sa.Column("revision_id", sa.String(40), nullable=False),
    sa.Column("benchmark_id", sa.String(40)),
    sa.Column("suite_id", sa.String(40)),
    sa.Column("case_id", sa.String(40)),
    sa.Column("run_id", sa.String(40)),  # None until the suite has started the case's run
    sa.Column("reference_run_id", sa.String(40)),  # a replay's recorded run
    sa.Column("kind", sa.String(20), nullable=False),  # suite | replay | completion | manual
    sa.Column("status", sa.String(20), nullable=False),  # pending | scored | error
    sa.Column("scores", sa.JSON),  # [Verdict as JSON]
    sa.Column("passed", sa.Boolean),  # every scorer passed
    sa.Column("score", sa.Float),  # mean of the scorers' scores (0–1)
    sa.Column("latency_ms", sa.Float),
    sa.Column("credits", sa.Float),
    sa.Column("diff", sa.JSON),  # output against reference (side-by-side view)
    sa.Column("divergences", sa.JSON),  # a replay's tool calls the recorded run never made
    sa.Column("created_at", TS, nullable=False),
    sa.Column("scored_at", TS),
    # What it ran: {name, input, variables, reference, file_ids, replay_of} (0024).
    sa.Column("item", sa.JSON),
    sa.Index("ix_benchmark_results_agent", "tenant_id", "agent_id", "created_at", "id"),
    sa.Index("ix_benchmark_results_suite", "suite_id"),
    sa.Index("ix_benchmark_results_run", "run_id"),
)
