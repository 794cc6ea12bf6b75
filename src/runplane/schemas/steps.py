"""Wire models of step agents: an agent defined as an ordered list of model steps, no code."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runplane.schemas.wire import (
    AgentPublic,
    ApprovalRule,
    RevisionPublic,
    StepOverride,
    _Strict,
)

__all__ = [
    "StepAgentCreated",
    "StepAgentDefinition",
    "StepDefinition",
    "StepModel",
    "StepOutput",
    "StepOverride",
    "StepVariable",
]

VariableType = Literal["string", "number", "integer", "boolean", "object", "array"]
OutputFormat = Literal["text", "markdown", "json", "file"]
ReasoningEffort = Literal["minimal", "low", "medium", "high"]

# Step and variable names are used as attributes in templates (``steps.draft.output``).
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"


class StepVariable(_Strict):
    """A variable of a step agent: its type, its default, what it means."""

    type: VariableType = "string"
    default: Any = None
    description: str | None = Field(default=None, max_length=2000)


class StepModel(_Strict):
    """The model a step agent uses by default, and its reasoning effort."""

    name: str = Field(min_length=1, max_length=200)
    reasoning_effort: ReasoningEffort | None = None


class StepOutput(_Strict):
    """What a step produces: text, markdown, JSON (validated against ``schema``) or a file."""

    format: OutputFormat = "text"
    # ``schema`` would shadow a pydantic attribute; on the wire it is ``schema``.
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    retry_invalid: bool = False
    file_name: str | None = Field(default=None, min_length=1, max_length=255)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class StepDefinition(_Strict):
    """One step: instructions (a Jinja2 template), a model, the tools it may call, its output."""

    name: str = Field(pattern=IDENTIFIER)
    instructions: str = Field(min_length=1, max_length=100_000)
    model: str | None = Field(default=None, min_length=1, max_length=200)
    reasoning_effort: ReasoningEffort | None = None
    tools: list[str] = Field(default=[], max_length=100)
    output: StepOutput = StepOutput()


class StepAgentDefinition(_Strict):
    """The body of ``POST /v1/agents`` and of a new revision: a whole step agent."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_\-]{0,63}$")
    kind: Literal["steps"] = "steps"
    description: str | None = Field(default=None, max_length=5000)
    input_schema: dict[str, Any] | None = None
    variables: dict[str, StepVariable] = {}
    model: StepModel | None = None
    integrations: list[str] | Literal["*"] = []
    # Tool calls of its runs that ask a person first (as a code agent's ``approval_rules``).
    approval_rules: list[ApprovalRule] = Field(default=[], max_length=100)
    timeout_seconds: float = Field(default=3600.0, gt=0, le=7 * 24 * 3600)
    steps: list[StepDefinition] = Field(min_length=1, max_length=50)


class StepAgentCreated(BaseModel):
    """The answer of ``POST /v1/agents``: the agent and its first (draft) revision."""

    agent: AgentPublic
    revision: RevisionPublic
