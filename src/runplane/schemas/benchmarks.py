"""Wire models of benchmarks: scorers, cases, suite runs, scored results, gates and A/B splits."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from runplane.schemas.wire import _Strict

__all__ = [
    "BenchmarkCreate",
    "BenchmarkPublic",
    "BenchmarkUpdate",
    "CaseCreate",
    "CaseFromRun",
    "CasePublic",
    "CompletionRules",
    "GateRules",
    "ResultPublic",
    "ScorerSpec",
    "SplitConfig",
    "SplitPublic",
    "SuiteCreate",
    "SuitePublic",
    "Verdict",
]


class _Scorer(_Strict):
    name: str | None = Field(
        default=None, min_length=1, max_length=100, description="Its key (default: its type)"
    )


class ExactScorer(_Scorer):
    """The output (or a field of it) equals the reference."""

    type: Literal["exact"]
    field: str | None = None
    ignore_case: bool = False
    ignore_whitespace: bool = True


class JsonSchemaScorer(_Scorer):
    """The output (or a field of it) is valid against a JSON Schema."""

    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")
    field: str | None = None


class JsonFieldsScorer(_Scorer):
    """Fields of the output equal the reference's; a number within its tolerance."""

    type: Literal["json_fields"]
    fields: dict[str, float | None] | list[str] = Field(min_length=1)


class ContainsScorer(_Scorer):
    """The output contains a text (or each of several; default: the reference)."""

    type: Literal["contains"]
    text: str | list[str] | None = None
    field: str | None = None
    ignore_case: bool = True


class RegexScorer(_Scorer):
    """The output matches a regular expression."""

    type: Literal["regex"]
    pattern: str = Field(min_length=1, max_length=2000)
    field: str | None = None


class NumericScorer(_Scorer):
    """A number in the output is within a tolerance of the reference (or ``expected``)."""

    type: Literal["numeric"]
    field: str | None = None
    expected: float | None = None
    tolerance: float = Field(default=0.0, ge=0)
    relative: bool = False


class CitationScorer(_Scorer):
    """The result has sources, and its paragraphs cite them (``[n]`` markers)."""

    type: Literal["citation"]
    min_sources: int = Field(default=1, ge=0)
    min_cited: float = Field(default=1.0, ge=0, le=1)


class LatencyScorer(_Scorer):
    """The run took at most ``max_ms``."""

    type: Literal["latency"]
    max_ms: float = Field(gt=0)


class CreditsScorer(_Scorer):
    """The run spent at most ``max`` credits."""

    type: Literal["credits"]
    max: float = Field(ge=0)


class PythonScorer(_Scorer):
    """A function ``module:function(output, reference, facts)`` returning bool, number or dict."""

    type: Literal["python"]
    path: str = Field(pattern=r"^[\w.]+:\w+$")
    pass_at: float = 0.5


class LlmJudgeScorer(_Scorer):
    """A model grades the output 1–5 against a rubric (needs a model provider)."""

    type: Literal["llm_judge"]
    rubric: str = Field(min_length=1, max_length=8000)
    min_score: int = Field(default=4, ge=1, le=5)
    model: str | None = None


ScorerSpec = Annotated[
    ExactScorer
    | JsonSchemaScorer
    | JsonFieldsScorer
    | ContainsScorer
    | RegexScorer
    | NumericScorer
    | CitationScorer
    | LatencyScorer
    | CreditsScorer
    | PythonScorer
    | LlmJudgeScorer,
    Field(discriminator="type"),
]


class CompletionRules(_Strict):
    """Score finished production runs of the agent: a sampled percentage of them."""

    sample_percent: float = Field(default=100.0, ge=0, le=100)


class GateRules(_Strict):
    """What a revision must pass: a minimum pass rate (0–1) per scorer name.

    ``required``: publishing the agent needs a passing replay gate (an admin can override
    with a reason). ``replay_runs``: how many recent production runs the gate replays.
    """

    required: bool = False
    thresholds: dict[str, float] = Field(default_factory=dict)
    replay_runs: int = Field(default=10, ge=1, le=500)


class BenchmarkCreate(_Strict):
    """A benchmark of one agent."""

    agent_id: str = Field(min_length=1)
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    scorers: list[ScorerSpec] = Field(min_length=1, max_length=50)
    on_completion: CompletionRules | None = None
    gate: GateRules | None = None


class BenchmarkUpdate(_Strict):
    """Fields to change (absent: unchanged; ``null`` for on_completion/gate: off)."""

    description: str | None = Field(default=None, max_length=4000)
    scorers: list[ScorerSpec] | None = Field(default=None, min_length=1, max_length=50)
    on_completion: CompletionRules | None = None
    gate: GateRules | None = None


class BenchmarkPublic(BaseModel):
    """A benchmark as the API shows it."""

    id: str
    agent_id: str
    agent_name: str | None = None
    name: str
    description: str | None
    scorers: list[dict[str, Any]]
    on_completion: dict[str, Any] | None
    gate: dict[str, Any] | None
    case_count: int | None = None
    created_at: datetime
    updated_at: datetime


class CaseCreate(_Strict):
    """One case: an input and variables, what it should give, tags."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    input: Any = None
    variables: dict[str, Any] = Field(default_factory=dict)
    expected: Any = None
    tags: list[str] = Field(default_factory=list, max_length=50)
    file_ids: list[str] | None = None


class CaseFromRun(_Strict):
    """Save a finished run as a case: its input and variables, its result as the reference."""

    run_id: str = Field(min_length=1)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=50)


class CasePublic(BaseModel):
    """A case as the API shows it."""

    id: str
    benchmark_id: str
    name: str
    input: Any
    variables: dict[str, Any]
    expected: Any
    tags: list[str]
    file_ids: list[str] | None
    source_run_id: str | None
    created_at: datetime


class SuiteCreate(_Strict):
    """Run every case (or those with a tag) against a revision (default: the published one)."""

    revision_id: str | None = None
    tags: list[str] | None = None
    concurrency: int = Field(default=4, ge=1, le=64)


class Verdict(BaseModel):
    """One scorer's judgement of one run."""

    scorer: str
    type: str
    passed: bool
    score: float
    reason: str
    value: float | None = None


class ResultPublic(BaseModel):
    """One scored run."""

    id: str
    name: str | None = None  # its case's (or replayed run's) name, as the suite ran it
    agent_id: str
    revision_id: str
    benchmark_id: str | None
    suite_id: str | None
    case_id: str | None
    run_id: str | None
    reference_run_id: str | None
    kind: Literal["suite", "replay", "completion", "manual"]
    status: Literal["pending", "scored", "error"]
    scores: list[Verdict] | None
    passed: bool | None
    score: float | None
    latency_ms: float | None
    credits: float | None
    diff: dict[str, Any] | None
    divergences: list[dict[str, Any]] | None
    created_at: datetime
    scored_at: datetime | None


class SuitePublic(BaseModel):
    """A suite run: its runs' progress, and when finished its summary and verdict."""

    id: str
    agent_id: str
    revision_id: str
    benchmark_id: str | None
    kind: Literal["suite", "replay"]
    status: Literal["running", "succeeded", "failed", "cancelled"]
    scorers: list[dict[str, Any]]
    thresholds: dict[str, float]
    concurrency: int
    case_count: int
    summary: dict[str, Any] | None
    passed: bool | None
    created_at: datetime
    finished_at: datetime | None


class SplitConfig(_Strict):
    """Send ``percent_b`` % of the agent's new runs (that name no revision) to revision B."""

    revision_a: str = Field(min_length=1)
    revision_b: str = Field(min_length=1)
    percent_b: float = Field(ge=0, le=100)


class SplitPublic(SplitConfig):
    """An agent's A/B split and when it started."""

    agent_id: str
    started_at: datetime
