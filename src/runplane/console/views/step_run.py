"""Starting a steps agent's run from its page: which revision (a draft runs too), its
variables (the agent's defaults, overridden) and, per step, another model or effort."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runplane.console.views.step_form import (
    VariableForm,
    default_text,
    path_of,
    typed_default,
)
from runplane.domain.errors import Invalid
from runplane.providers.base import REASONING_EFFORTS


@dataclass
class VariableOption:
    """A variable of the run form: its default, and what the form says."""

    name: str
    type: str
    default: str
    value: str
    description: str = ""
    error: str = ""


@dataclass
class StepOption:
    """A step of the run form: its model and effort as defined, and the override asked."""

    name: str
    default_model: str
    default_effort: str
    model: str = ""
    effort: str = ""
    error: str = ""


@dataclass
class RunOptions:
    """The run form's part for steps agents."""

    revisions: list[tuple[str, str]]
    revision_id: str
    variables: list[VariableOption] = field(default_factory=list)
    steps: list[StepOption] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    efforts: tuple[str, ...] = REASONING_EFFORTS
    error: str = ""


def options_of(agent: Mapping[str, Any], revisions: list[Any], form: Any) -> RunOptions | None:
    """The steps-agent part of the run form (None for other agents), filled from ``form``
    when one was posted."""
    if agent["kind"] != "steps" or not revisions:
        return None
    choices = [
        (
            str(r["id"]),
            f"{r['id']} ({'published' if r['id'] == agent['published_revision_id'] else 'draft'})",
        )
        for r in revisions
    ]
    wanted = str(form.get("revision_id") or "") if form is not None else ""
    chosen = next((r for r in revisions if r["id"] == wanted), None)
    if chosen is None:
        published = agent["published_revision_id"]
        chosen = next((r for r in revisions if r["id"] == published), revisions[0])
    definition: Mapping[str, Any] = chosen["config"] or {}
    options = RunOptions(revisions=choices, revision_id=str(chosen["id"]))
    agent_model = definition.get("model") or {}
    agent_model = agent_model if isinstance(agent_model, Mapping) else {"name": agent_model}
    variables = definition.get("variables") or {}
    for name, spec in variables.items() if isinstance(variables, Mapping) else ():
        spec = spec if isinstance(spec, Mapping) else {}
        kind = str(spec.get("type") or "string")
        default = default_text(kind, spec.get("default"))
        posted = form.get(f"var.{name}") if form is not None else None
        options.variables.append(
            VariableOption(
                name=str(name),
                type=kind,
                default=default,
                value=default if posted is None else str(posted),
                description=str(spec.get("description") or ""),
            )
        )
    for step in definition.get("steps") or []:
        if not isinstance(step, Mapping):
            continue
        name = str(step.get("name") or "")
        options.steps.append(
            StepOption(
                name=name,
                default_model=str(step.get("model") or agent_model.get("name") or ""),
                default_effort=str(
                    step.get("reasoning_effort") or agent_model.get("reasoning_effort") or ""
                ),
                model=str(form.get(f"override.{name}.model") or "") if form is not None else "",
                effort=str(form.get(f"override.{name}.effort") or "") if form is not None else "",
            )
        )
    return options


def read_options(options: RunOptions | None, form: Any, errors: dict[str, str]) -> dict[str, Any]:
    """What the run body gets from the form: the revision, the variables that differ from
    their defaults, and the steps' overrides (errors by form field)."""
    if options is None:
        return {}
    body: dict[str, Any] = {"revision_id": options.revision_id}
    variables: dict[str, Any] = {}
    for v in options.variables:
        if v.value == v.default:
            continue
        row = VariableForm(key="x", name=v.name, type=v.type, default=v.value)
        value = typed_default(row)
        if row.errors:
            errors[f"var.{v.name}"] = row.errors["default"]
        elif value is not None:
            variables[v.name] = value
    if variables:
        body["variables"] = variables
    overrides: dict[str, Any] = {}
    for s in options.steps:
        asked = {
            k: v
            for k, v in (("model", s.model), ("reasoning_effort", s.effort))
            if v and v != (s.default_model if k == "model" else s.default_effort)
        }
        if asked:
            overrides[s.name] = asked
    if overrides:
        body["step_overrides"] = overrides
    return body


def field_of(exc: Invalid, options: RunOptions | None) -> str:
    """The run form's field a refusal is about: ``var.NAME``, ``override.STEP``, or ''."""
    if options is None or not exc.details:
        return ""
    parts = path_of(str(exc.details[0].get("name") or ""))
    if len(parts) > 1 and parts[0] == "variables":
        return f"var.{parts[1]}"
    if len(parts) > 1 and parts[0] == "step_overrides":
        return f"override.{parts[1]}"
    return "revision_id" if parts[:1] == ["revision_id"] else ""


def place_errors(options: RunOptions | None, errors: dict[str, str]) -> None:
    """Move the errors about variables and overrides onto their rows."""
    if options is None:
        return
    for v in options.variables:
        v.error = errors.pop(f"var.{v.name}", "")
    for s in options.steps:
        s.error = errors.pop(f"override.{s.name}", "")
    options.error = errors.pop("revision_id", "")
