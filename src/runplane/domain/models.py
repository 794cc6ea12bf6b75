"""Small value objects shared by services, the engine and the API."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


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
