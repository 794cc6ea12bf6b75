"""Configuration: one ``Settings`` object (environment prefix ``RUNPLANE_``)."""

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///.runplane/runplane.db"


class Settings(BaseSettings):
    """Everything a runplane process can be told; built once by the entry point."""

    model_config = SettingsConfigDict(env_prefix="RUNPLANE_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    project: Path = Path("runplane.toml")
    host: str = "127.0.0.1"
    port: int = 8000
    worker: bool = Field(default=True, description="execute runs in this process")
    concurrency: int = Field(default=32, ge=1, le=1024)
    processes: int = Field(
        default=1, ge=1, le=64, description="server processes sharing the port (one per core)"
    )
    queue_polling_interval: float = Field(default=0.05, gt=0, le=5)
    executor_id: str | None = None
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    migrate: bool = True
    heartbeat_seconds: float = Field(default=2.0, gt=0)
    executor_dead_after: float = Field(default=10.0, gt=0)
    cancel_poll_seconds: float = Field(default=0.25, gt=0)
    public_url: str | None = None
    secret_key: str | None = Field(
        default=None,
        description="signs approval links; unset: a random key kept in <data dir>/secret.key",
    )
    encryption_key: str | None = Field(
        default=None,
        description="Fernet key(s), comma-separated, newest first, for stored credentials; "
        "unset: derived from secret_key",
    )
    approval_link_ttl: float = Field(default=24 * 3600, gt=0)
    plan_wait_seconds: float = Field(default=10.0, ge=0, le=120)
    model_provider: str = Field(
        default="offline", description="offline, openai (any OpenAI-compatible server) or anthropic"
    )
    model_name: str | None = None
    model_base_url: str | None = None
    model_api_key: str | None = None
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "warning"
    log_format: Literal["text", "json"] = Field(
        default="text", description="text, or json: one JSON object per line"
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lowercase(cls, value: Any) -> Any:
        # WARNING and JSON mean what warning and json do.
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def is_sqlite(self) -> bool:
        """Tell whether the database is an SQLite file."""
        return self.database_url.startswith("sqlite")

    @property
    def base_url(self) -> str:
        """The URL people and clients reach this server at."""
        return self.public_url or f"http://{self.host}:{self.port}"
