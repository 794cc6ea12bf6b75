"""Wire models of the quality figures: an agent's or a benchmark's scored runs, summed up."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "ABComparison",
    "Bucket",
    "Figures",
    "QualityPublic",
    "RevisionFigures",
    "ScorerFigures",
]

BucketSize = Literal["hour", "day"]
ResultKind = Literal["suite", "replay", "completion", "manual"]


class ScorerFigures(BaseModel):
    """One scorer over many scored runs."""

    pass_rate: float = Field(description="Share of its verdicts that passed (0–1)")
    mean: float = Field(description="Mean of its scores (0–1)")
    count: int


class Figures(BaseModel):
    """Scored runs summed up: pass rate, scores, latency and credits."""

    count: int = Field(description="Scored runs")
    pass_rate: float | None = Field(description="Share of runs every scorer passed (0–1)")
    mean_score: float | None = Field(description="Mean of the runs' scores (0–1)")
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    mean_credits: float | None
    total_credits: float
    scorers: dict[str, ScorerFigures] = Field(default_factory=dict)


class Bucket(Figures):
    """The figures of one hour or day (its start)."""

    start: datetime


class RevisionFigures(Figures):
    """The figures of one revision of the agent."""

    revision_id: str
    first_at: datetime
    last_at: datetime


class ABComparison(BaseModel):
    """The agent's A/B split: both revisions' figures since the split started."""

    revision_a: str
    revision_b: str
    percent_b: float
    started_at: datetime | None
    a: Figures
    b: Figures


class QualityPublic(BaseModel):
    """Quality figures over a time range: overall, over time, per revision, and the A/B split."""

    agent_id: str
    benchmark_id: str | None
    since: datetime
    until: datetime
    bucket: BucketSize
    kind: ResultKind | None
    overall: Figures
    over_time: list[Bucket]
    per_revision: list[RevisionFigures]
    ab: ABComparison | None
