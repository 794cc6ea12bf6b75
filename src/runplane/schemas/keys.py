"""Wire models of API keys and the audit log."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["admin", "member", "approver", "viewer"]


class KeyCreate(BaseModel):
    """A new key: a label, its role, and the user it is bound to (if any)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    role: Role = "member"
    user_id: str | None = Field(default=None, min_length=1, max_length=200)


class KeyPublic(BaseModel):
    """A key as listed: never its secret, only the first characters to recognise it."""

    id: str
    object: Literal["api_key"] = "api_key"
    name: str | None = None
    prefix: str
    role: str
    user_id: str | None = None
    created_at: datetime
    revoked_at: datetime | None = None


class KeyCreated(KeyPublic):
    """A key just made, with the secret itself: shown this once, never again."""

    key: str


class AuditEventPublic(BaseModel):
    """One change: who did what to what, and when.

    ``actor_key_id`` is the key that acted, or for others a synthetic id
    (``trigger:<id>``, ``cron:<id>``, ``run:<id>``, ``link:<approval id>``, ``system``);
    ``actor_type`` says how: api, console, link, trigger, schedule, agent or system.
    """

    id: str
    object: Literal["audit_event"] = "audit_event"
    at: datetime
    actor_key_id: str | None = None
    actor_type: str = "api"
    actor_role: str | None = None
    actor_user_id: str | None = None
    action: str
    target_type: str
    target_id: str | None = None
    data: dict[str, Any] = {}
