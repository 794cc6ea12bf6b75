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
    sa.Column("created_at", TS, nullable=False),
    sa.Column("started_at", TS),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("finished_at", TS),
    sa.Index("ix_runs_tenant_created", "tenant_id", "created_at", "id"),
    sa.Index("ix_runs_tenant_agent", "tenant_id", "agent_id", "created_at"),
    sa.Index("ix_runs_status", "status"),
    sa.Index("ix_runs_thread", "thread_id", "created_at"),
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
    sa.Column("started_at", TS),
    sa.Column("finished_at", TS),
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

threads = sa.Table(
    "threads",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
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
