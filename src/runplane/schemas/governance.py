"""Wire models of governance: the tenant's policy document (the contract other parts read)."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from runplane.schemas.wire import RunStatusName, _Strict

__all__ = [
    "DeletionDecision",
    "DeletionRequestPublic",
    "DeletionRules",
    "GovernancePolicy",
    "HeldReason",
    "HoldCreate",
    "HoldPublic",
    "HoldQuery",
    "PolicyHold",
    "PolicyUpdate",
    "PolicyVersionPage",
    "PolicyVersionPublic",
    "ResourceRetention",
    "RetentionRules",
    "SigningRules",
    "TombstonePublic",
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


class PolicyUpdate(_Strict):
    """A new version of the policy: the whole document, why, and (optionally) the version
    it was made from (a stale one is a 409, so that two editors do not overwrite)."""

    document: GovernancePolicy
    comment: str | None = Field(default=None, max_length=2000)
    base_version: int | None = Field(default=None, ge=1)


class PolicyVersionPublic(BaseModel):
    """One version of a tenant's policy: the document, who made it, when and why."""

    version: int
    document: GovernancePolicy
    created_at: datetime
    created_by_key_id: str | None = None
    comment: str | None = None


class PolicyVersionPage(BaseModel):
    """Versions newest first; pass ``before`` back for the next page."""

    items: list[PolicyVersionPublic]
    before: int | None = None


class HoldQuery(_Strict):
    """The runs a hold (or a query) matches: every given field must agree."""

    agent_id: str | None = Field(default=None, max_length=64)
    created_after: datetime | None = None
    created_before: datetime | None = None
    status: RunStatusName | None = None


class HoldCreate(_Strict):
    """A legal hold on one run, every run of an agent, or the runs a query matches."""

    run_id: str | None = Field(default=None, max_length=40)
    agent_id: str | None = Field(default=None, max_length=64)
    query: HoldQuery | None = None
    reason: str = Field(min_length=1, max_length=2000)


class HoldPublic(BaseModel):
    """A legal hold: what it keeps, why, who made and released it."""

    id: str
    object: Literal["legal_hold"] = "legal_hold"
    scope: Literal["run", "agent", "query"]
    run_id: str | None = None
    agent_id: str | None = None
    query: dict[str, Any] | None = None
    reason: str
    active: bool
    created_at: datetime
    created_by_key_id: str | None = None
    released_at: datetime | None = None
    released_by_key_id: str | None = None
    matched_runs: int | None = None  # runs it keeps now (on creation and when read alone)


class HeldReason(BaseModel):
    """One hold that keeps a run: a hold's id (``policy:NAME`` for a standing hold,
    ``file:ID`` for a file's hold) and its reason."""

    id: str
    reason: str


class TombstonePublic(BaseModel):
    """What is kept of a deleted run: its identity, its chain's head, hashes of its content."""

    run_id: str
    object: Literal["run_tombstone"] = "run_tombstone"
    agent_id: str
    agent_name: str | None = None
    revision_id: str | None = None
    status: str
    created_at: datetime
    finished_at: datetime | None = None
    policy_version: int | None = None
    last_seq: int
    last_hash: str
    hashes: dict[str, Any]
    deleted_at: datetime
    deleted_by: str
    reason: str


class DeletionRequestPublic(BaseModel):
    """A request to delete a run that the policy makes wait for a second admin."""

    id: str
    object: Literal["deletion_request"] = "deletion_request"
    run_id: str
    reason: str
    status: Literal["pending", "approved", "rejected"]
    requested_at: datetime
    requested_by_key_id: str | None = None
    decided_at: datetime | None = None
    decided_by_key_id: str | None = None
    comment: str | None = None


class DeletionDecision(_Strict):
    """An approval or rejection of a deletion request, with an optional comment."""

    comment: str | None = Field(default=None, max_length=2000)
