"""Wire models of evidence exports and signing keys; the offline check, for the client.

``verify_bundle`` and its ``Verdict`` live in ``domain.evidence`` (pure: no server, no
database); they are re-exported here so that the client, which reaches runplane only
through its schemas, offers them too.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from runplane.domain.evidence import Problem, Verdict, verify_bundle
from runplane.schemas.wire import _Strict

__all__ = [
    "ExportCreate",
    "ExportPublic",
    "ExportQuery",
    "Problem",
    "SigningKeyPublic",
    "Verdict",
    "verify_bundle",
]

ExportStatus = Literal["queued", "running", "succeeded", "failed"]
MAX_EXPORT_RUNS = 10_000


class ExportQuery(_Strict):
    """Which runs to export: an agent's (id or name), in a time range, of a status."""

    agent_id: str | None = Field(default=None, min_length=1, max_length=64)
    created_after: datetime | None = None
    created_before: datetime | None = None
    status: Literal["succeeded", "failed", "canceled"] | None = None


class ExportCreate(_Strict):
    """A new export: ``run_ids``, or a ``query``; exactly one."""

    run_ids: list[str] | None = Field(default=None, min_length=1, max_length=MAX_EXPORT_RUNS)
    query: ExportQuery | None = None

    @model_validator(mode="after")
    def _one_of(self) -> "ExportCreate":
        if (self.run_ids is None) == (self.query is None):
            raise ValueError("give run_ids or a query (exactly one)")
        return self


class ExportPublic(BaseModel):
    """An export: its progress while it builds, its size and sha256 once it is done."""

    id: str
    object: Literal["evidence_export"] = "evidence_export"
    status: ExportStatus
    query: dict[str, Any]
    runs_total: int
    runs_done: int
    bytes: int
    sha256: str | None = None
    signing_key_id: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
    error: dict[str, Any] | None = None
    download_url: str | None = None


class SigningKeyPublic(BaseModel):
    """A tenant's signing key: its public half (PEM), and whether it signs now."""

    id: str
    object: Literal["signing_key"] = "signing_key"
    algorithm: str
    public_key: str
    created_at: datetime
    retired_at: datetime | None = None
    active: bool
