"""Configuration: one ``Settings`` object (environment prefix ``RUNPLANE_``)."""

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///.runplane/runplane.db"
# The shortest RUNPLANE_SECRET_KEY accepted: the key of HMAC-SHA256 and of the derived
# Fernet key; 32 random bytes is SHA-256's own size, and `secrets.token_urlsafe(32)`
# (what runplane generates) gives 43 characters.
MIN_SECRET_BYTES = 32


class Settings(BaseSettings):
    """Everything a runplane process can be told; built once by the entry point."""

    # Errors name the setting, never echo its value: several hold secrets.
    model_config = SettingsConfigDict(
        env_prefix="RUNPLANE_", extra="ignore", hide_input_in_errors=True
    )

    database_url: str = DEFAULT_DATABASE_URL
    database_session_url: str | None = Field(
        default=None,
        description="a direct (or session-mode) connection to the same Postgres database; "
        "set it when database_url is a transaction-mode pooler (PgBouncer): LISTEN, "
        "advisory locks and migrations go through it, and nothing is prepared via the pooler",
    )
    project: Path = Path("runplane.toml")
    host: str = "127.0.0.1"
    port: int = 8000
    role: Literal["api", "worker", "all"] = Field(
        default="all",
        description="api: accept runs and stream them, execute none; worker: execute runs "
        "from the queue, no HTTP API; all: both",
    )
    # RUNPLANE_WORKER=false, from before roles, still means an API-only process.
    worker: bool | None = Field(default=None, description="deprecated: RUNPLANE_ROLE")
    concurrency: int = Field(default=32, ge=1, le=1024)
    db_connections: int = Field(
        default=20,
        ge=8,
        le=1000,
        description="Postgres connections this process may hold, shared among all its pools "
        "(store/budget.py); processes x this must stay under the server's max_connections",
    )
    db_wait_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="how long a request waits for a free database connection before the API "
        "answers 503 with Retry-After",
    )
    processes: int = Field(
        default=1, ge=1, le=64, description="server processes sharing the port (one per core)"
    )
    queue_polling_interval: float = Field(default=0.05, gt=0, le=5)
    executor_id: str | None = None
    tenant_max_running: int | None = Field(
        default=None,
        ge=1,
        description="runs one tenant may have in flight (running or started soon); "
        "unset: three quarters of concurrency, so that no tenant takes every slot",
    )
    tenant_max_queued: int = Field(
        default=10_000, ge=1, description="runs one tenant may have waiting to start"
    )
    sse_max_per_key: int = Field(
        default=20, ge=1, description="event streams one API key may hold open at once"
    )
    metrics_bind: str | None = Field(
        default=None,
        description="host:port of a separate plain HTTP listener that serves /metrics without "
        "a key; unset: /metrics is served by the API and needs an admin key",
    )
    sse_max_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="longest one event stream stays open; clients resume with Last-Event-ID",
    )
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_file_bytes: int = Field(
        default=25 * 1024 * 1024, ge=1, description="largest file one upload may hold"
    )
    file_store: str = Field(
        default="db",
        pattern=r"^(db|fs:.+|s3://[^/]+(/.*)?)$",
        description="where files' bytes are kept: 'db' (the database), 'fs:/path' or"
        " 's3://bucket/prefix' (S3-compatible storage; needs runplane[s3])",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="the endpoint of an s3:// file store (default: AWS_ENDPOINT_URL, else AWS)",
    )
    migrate: bool = True
    heartbeat_seconds: float = Field(
        default=1.0, gt=0, description="how often a process says it is alive (executors table)"
    )
    drain_seconds: float = Field(
        default=30.0,
        ge=0,
        description="on SIGTERM, how long running steps may finish before the process "
        "hands its runs to other workers and exits (docs/operations.md)",
    )
    executor_dead_after: float = Field(
        default=5.0,
        gt=0,
        description="a worker silent this long is declared dead and its runs are taken over; "
        "one that cannot beat for half of it holds its runs itself (docs/architecture.md)",
    )
    reconcile_after: float = Field(
        default=30.0,
        gt=0,
        description="seconds a run may sit unchanged while its workflow disagrees with it "
        "(ended, missing, or left on a process that is gone) before it is repaired",
    )
    run_stalled_after: float = Field(
        default=600.0,
        gt=0,
        description="seconds a running run may record no event before it shows as stalled "
        "(capped by the run's own timeout_seconds; docs/operations.md)",
    )
    cancel_poll_seconds: float = Field(default=0.25, gt=0)
    public_url: str | None = None
    forwarded_allow_ips: str = Field(
        default="127.0.0.1,::1",
        description="reverse proxies (comma-separated addresses or networks, or *) whose "
        "X-Forwarded-Proto and X-Forwarded-For are believed; empty: none",
    )
    secret_key: str | None = Field(
        default=None,
        description="signs approval links (at least 32 bytes); unset: a random key kept in "
        "<data dir>/secret.key",
    )
    encryption_key: str | None = Field(
        default=None,
        description="Fernet key(s), comma-separated, newest first, for stored credentials; "
        "unset: derived from secret_key",
    )
    approval_link_ttl: float = Field(default=24 * 3600, gt=0)
    webhook_retry_seconds: float = Field(
        default=24 * 3600,
        gt=0,
        description="how long a lifecycle webhook is retried before it is given up (failed)",
    )
    webhook_backoff_max_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="the longest wait between two tries of a webhook (backoff doubles up to it)",
    )
    webhook_poll_seconds: float = Field(
        default=1.0, gt=0, description="how often each worker looks for webhooks due"
    )
    webhook_endpoints_ttl: float = Field(
        default=5.0,
        ge=0,
        description="seconds a process keeps a tenant's webhook endpoints in memory",
    )
    allow_self_approval: bool = Field(
        default=False,
        description="let an approver key decide approvals of runs it started (admins always may)",
    )
    plan_wait_seconds: float = Field(default=10.0, ge=0, le=120)
    retention_sweep_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="how often the retention sweep applies each tenant's policy (one process"
        " sweeps per interval)",
    )
    retention_sweep_batch: int = Field(
        default=500,
        ge=1,
        description="the most runs (and files, activity rows) one sweep removes per tenant",
    )
    model_provider: str = Field(
        default="offline", description="offline, openai (any OpenAI-compatible server) or anthropic"
    )
    model_name: str | None = None
    model_base_url: str | None = None
    model_api_key: str | None = None
    model_max_attempts: int = Field(
        default=4,
        ge=1,
        le=20,
        description="attempts of one model call on 429, 5xx, timeouts and lost connections",
    )
    model_retry_max_delay: float = Field(
        default=30.0,
        ge=0,
        description="the longest wait between two attempts of a model call, Retry-After included",
    )
    model_timeout: float = Field(
        default=120.0, gt=0, description="seconds one attempt of a model call may take"
    )
    allow_private_networks: bool = Field(
        default=False,
        description="let outgoing calls (webhooks, model servers) reach loopback, private and "
        "link-local addresses; cloud metadata addresses still need the allow-list",
    )
    outbound_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated networks (10.0.0.0/8) and hosts (ollama.internal:11434) "
        "that outgoing calls may reach even though they are internal",
    )
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "warning"
    log_format: Literal["text", "json"] = Field(
        default="text", description="text, or json: one JSON object per line"
    )

    @field_validator("log_level", "log_format", "role", mode="before")
    @classmethod
    def _lowercase(cls, value: Any) -> Any:
        # WARNING, JSON and API mean what warning, json and api do.
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _worker_alias(self) -> "Settings":
        # Only the old way of asking for an API-only process means anything: true was
        # the default, and an explicit role wins.
        if self.worker is False and self.role == "all":
            self.role = "api"
        self.worker = None
        return self

    @field_validator("outbound_allow", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # RUNPLANE_OUTBOUND_ALLOW=10.0.0.0/8,ollama.internal reads as a list.
        return (
            [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
        )

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: str | None) -> str | None:
        # A short key can be guessed offline from one approval link; empty means unset.
        if not value:
            return None
        if len(value.strip().encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"RUNPLANE_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes of random "
                "text; make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value  # as given: the keys derived from it must not change

    @property
    def default_max_running(self) -> int:
        """Runs one tenant may have in flight, unless its own quota says otherwise."""
        if self.tenant_max_running is not None:
            return self.tenant_max_running
        return max(1, self.concurrency * 3 // 4)

    @property
    def session_url(self) -> str:
        """Where what needs a whole session goes: LISTEN, advisory locks, migrations."""
        return self.database_session_url or self.database_url

    @property
    def behind_pooler(self) -> bool:
        """Tell whether ``database_url`` is a transaction-mode pooler (a session URL is set)."""
        return self.database_session_url is not None and not self.is_sqlite

    @property
    def executes(self) -> bool:
        """Whether this process executes runs (a worker, or API and worker in one)."""
        return self.role != "api"

    @property
    def is_sqlite(self) -> bool:
        """Tell whether the database is an SQLite file."""
        return self.database_url.startswith("sqlite")

    @property
    def base_url(self) -> str:
        """The URL people and clients reach this server at."""
        return self.public_url or f"http://{self.host}:{self.port}"
