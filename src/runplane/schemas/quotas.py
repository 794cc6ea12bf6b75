"""Wire models of a tenant's quotas (``/v1/quotas``)."""

from pydantic import BaseModel, ConfigDict, Field


class QuotaUsage(BaseModel):
    """The tenant's runs now, as the quotas count them."""

    running: int = Field(description="runs executing or paused mid-segment")
    waiting: int = Field(description="runs admitted and waiting for a free slot")
    held: int = Field(description="runs held by the running quota or a scheduled start")
    queued: int = Field(description="runs not started yet (waiting + held)")


class QuotasPublic(BaseModel):
    """A tenant's quotas, the server's defaults and the tenant's current usage."""

    max_running: int = Field(description="runs in flight at once (running or waiting)")
    max_queued: int = Field(description="runs not started yet; one more is a 429")
    default_max_running: int
    default_max_queued: int
    sse_max_per_key: int = Field(description="event streams one key may hold open")
    sse_max_seconds: float = Field(description="longest one event stream stays open")
    usage: QuotaUsage


class QuotasPatch(BaseModel):
    """New overrides of the tenant's quotas; null goes back to the server's default."""

    model_config = ConfigDict(extra="forbid")

    max_running: int | None = Field(default=None, ge=1, le=100_000)
    max_queued: int | None = Field(default=None, ge=1, le=10_000_000)
