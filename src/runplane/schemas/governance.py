"""Wire models of governance: the tenant's policy document (the contract other parts read)."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from runplane.schemas.wire import _Strict

__all__ = [
    "DeletionRules",
    "GovernancePolicy",
    "PolicyHold",
    "ResourceRetention",
    "RetentionRules",
    "SigningRules",
]

Role = Literal["admin", "member", "approver", "viewer"]
RunField = Literal["input", "result", "step_outputs", "files"]


class ResourceRetention(_Strict):
    """How long a resource is kept (``days``; None: forever) and, for runs, some of its
    fields for less (a field's content is removed after its days; the record stays)."""

    days: int | None = Field(default=None, ge=1, le=36500)
    fields: dict[RunField, int] = Field(default_factory=dict)


class RetentionRules(_Strict):
    """Retention per resource."""

    runs: ResourceRetention = Field(default_factory=ResourceRetention)
    files: ResourceRetention = Field(default_factory=ResourceRetention)
    activity: ResourceRetention = Field(default_factory=ResourceRetention)
    exports: ResourceRetention = Field(default_factory=ResourceRetention)


class DeletionRules(_Strict):
    """Who may delete a run, from what age, and whether a second admin must approve."""

    roles: list[Role] = Field(default_factory=lambda: list[Role](["admin"]), min_length=1)
    min_age_days: int = Field(default=0, ge=0, le=36500)
    requires_approval: bool = False


class SigningRules(_Strict):
    """Whether evidence bundles' manifests are signed with the tenant's Ed25519 key."""

    enabled: bool = True


class PolicyHold(_Strict):
    """A standing legal hold written into the policy: runs it matches are kept at least
    ``keep_days`` (and never deleted or swept before)."""

    name: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=2000)
    agent_id: str | None = Field(default=None, max_length=64)
    created_after: datetime | None = None
    created_before: datetime | None = None
    keep_days: int = Field(ge=1, le=36500)


class GovernancePolicy(_Strict):
    """A tenant's governance policy document; version 1 is this default."""

    retention: RetentionRules = Field(default_factory=RetentionRules)
    deletion: DeletionRules = Field(default_factory=DeletionRules)
    signing: SigningRules = Field(default_factory=SigningRules)
    holds: list[PolicyHold] = Field(default_factory=list, max_length=100)
