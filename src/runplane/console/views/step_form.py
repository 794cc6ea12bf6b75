"""The step-agent editor's form: a definition to form fields and back, and the service's
validation errors put next to the field they are about.

Steps and variables are posted as rows, each with a ``key`` of its own (``steps`` and
``vars`` list the keys in page order), so moving a row on the page needs no renaming:
the order of the keys is the order of the rows.
"""

import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

VARIABLE_TYPES = ("string", "number", "integer", "boolean", "object", "array")
OUTPUT_FORMATS = {
    "markdown": "Markdown document",
    "text": "Plain text",
    "json": "JSON (checked against a schema)",
    "file": "A file",
}
MAX_ROWS = 50
KEY = re.compile(r"^[a-z0-9]{1,16}$")


def new_key() -> str:
    """A fresh row key."""
    return uuid.uuid4().hex[:8]


@dataclass
class VariableForm:
    """One variable row."""

    key: str
    name: str = ""
    type: str = "string"
    default: str = ""
    description: str = ""
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class StepForm:
    """One step's fieldset."""

    key: str
    name: str = ""
    instructions: str = ""
    model: str = ""
    reasoning_effort: str = ""
    tools: list[str] = field(default_factory=list)
    format: str = "markdown"
    schema: str = ""
    retry_invalid: bool = False
    file_name: str = ""
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class AgentForm:
    """The whole editor form."""

    name: str = ""
    description: str = ""
    model: str = ""
    reasoning_effort: str = ""
    input_schema: str = ""
    integrations: str = ""
    timeout: str = ""
    approval_rules: str = ""
    variables: list[VariableForm] = field(default_factory=list)
    steps: list[StepForm] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def has_errors(self) -> bool:
        """Whether any field of the form is in error."""
        return bool(
            self.errors
            or any(v.errors for v in self.variables)
            or any(s.errors for s in self.steps)
        )


def blank_form() -> AgentForm:
    """A new agent: one empty step."""
    return AgentForm(steps=[StepForm(key=new_key())])


# -- definition -> form ----------------------------------------------------------------


def _json_text(value: Any) -> str:
    return "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)


def default_text(kind: str, value: Any) -> str:
    """A variable's default as a form field shows it."""
    if value is None:
        return ""
    if kind == "string":
        return str(value)
    if kind == "boolean":
        return "true" if value else "false"
    if kind in ("number", "integer") and isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _number_text(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    return f"{value:g}"


def _integrations_text(value: Any) -> str:
    if value == "*":
        return "*"
    return ", ".join(str(v) for v in value) if isinstance(value, list) else ""


def form_of(definition: Mapping[str, Any]) -> AgentForm:
    """The form showing a stored definition."""
    model = definition.get("model") or {}
    if not isinstance(model, Mapping):
        model = {"name": model}
    form = AgentForm(
        name=str(definition.get("name") or ""),
        description=str(definition.get("description") or ""),
        model=str(model.get("name") or ""),
        reasoning_effort=str(model.get("reasoning_effort") or ""),
        input_schema=_json_text(definition.get("input_schema")),
        integrations=_integrations_text(definition.get("integrations")),
        timeout=_number_text(definition.get("timeout_seconds")),
        approval_rules=_json_text(definition.get("approval_rules") or None),
    )
    variables = definition.get("variables") or {}
    if isinstance(variables, Mapping):
        for name, spec in variables.items():
            spec = spec if isinstance(spec, Mapping) else {}
            kind = str(spec.get("type") or "string")
            form.variables.append(
                VariableForm(
                    key=new_key(),
                    name=str(name),
                    type=kind,
                    default=default_text(kind, spec.get("default")),
                    description=str(spec.get("description") or ""),
                )
            )
    for step in definition.get("steps") or []:
        if not isinstance(step, Mapping):
            continue
        output = step.get("output") or {}
        output = output if isinstance(output, Mapping) else {}
        form.steps.append(
            StepForm(
                key=new_key(),
                name=str(step.get("name") or ""),
                instructions=str(step.get("instructions") or ""),
                model=str(step.get("model") or ""),
                reasoning_effort=str(step.get("reasoning_effort") or ""),
                tools=[str(t) for t in step.get("tools") or []],
                format=str(output.get("format") or "markdown"),
                schema=_json_text(output.get("schema")),
                retry_invalid=bool(output.get("retry_invalid")),
                file_name=str(output.get("file_name") or ""),
            )
        )
    if not form.steps:
        form.steps.append(StepForm(key=new_key()))
    return form


# -- posted form -> form ---------------------------------------------------------------


def _keys(posted: Any, name: str) -> list[str]:
    seen: list[str] = []
    for key in posted.getlist(name):
        key = str(key)
        if KEY.match(key) and key not in seen:
            seen.append(key)
    return seen[:MAX_ROWS]


def read_form(posted: Any) -> AgentForm:
    """The editor's fields as posted (a Starlette form), nothing checked yet."""

    def text(name: str) -> str:
        return str(posted.get(name) or "")

    form = AgentForm(
        name=text("name").strip(),
        description=text("description").strip(),
        model=text("model").strip(),
        reasoning_effort=text("reasoning_effort").strip(),
        input_schema=text("input_schema"),
        integrations=text("integrations"),
        timeout=text("timeout_seconds").strip(),
        approval_rules=text("approval_rules"),
    )
    for key in _keys(posted, "vars"):
        p = f"var.{key}."
        form.variables.append(
            VariableForm(
                key=key,
                name=text(p + "name").strip(),
                type=text(p + "type") if text(p + "type") in VARIABLE_TYPES else "string",
                default=text(p + "default"),
                description=text(p + "description").strip(),
            )
        )
    for key in _keys(posted, "steps"):
        p = f"step.{key}."
        form.steps.append(
            StepForm(
                key=key,
                name=text(p + "name").strip(),
                instructions=text(p + "instructions"),
                model=text(p + "model").strip(),
                reasoning_effort=text(p + "reasoning_effort").strip(),
                tools=[str(t) for t in posted.getlist(p + "tools")],
                format=text(p + "format") if text(p + "format") in OUTPUT_FORMATS else "markdown",
                schema=text(p + "schema"),
                retry_invalid=posted.get(p + "retry_invalid") is not None,
                file_name=text(p + "file_name").strip(),
            )
        )
    return form


def rearrange(form: AgentForm, action: str) -> bool:
    """Apply a row button (``add_step``, ``remove_step:KEY``, ``up:KEY``, ``down:KEY``,
    ``add_var``, ``remove_var:KEY``); False when ``action`` is none of them."""
    verb, _, key = action.partition(":")
    if verb == "add_step" and len(form.steps) < MAX_ROWS:
        form.steps.append(StepForm(key=new_key()))
    elif verb == "add_var" and len(form.variables) < MAX_ROWS:
        form.variables.append(VariableForm(key=new_key()))
    elif verb == "remove_var":
        form.variables = [v for v in form.variables if v.key != key]
    elif verb in ("remove_step", "up", "down"):
        at = next((i for i, s in enumerate(form.steps) if s.key == key), None)
        if at is None:
            return True
        if verb == "remove_step":
            del form.steps[at]
            if not form.steps:
                form.steps.append(StepForm(key=new_key()))
        else:
            to = at - 1 if verb == "up" else at + 1
            if 0 <= to < len(form.steps):
                form.steps[at], form.steps[to] = form.steps[to], form.steps[at]
    else:
        return False
    return True


# -- form -> definition ----------------------------------------------------------------


def _parse_json(text: str, errors: dict[str, str], name: str) -> Any:
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        errors[name] = f"This is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        return None


def typed_default(v: VariableForm) -> Any:
    """A variable's default as its type says (errors go on the row)."""
    raw = v.default if v.type == "string" else v.default.strip()
    if raw == "":
        return None
    if v.type == "string":
        return raw
    if v.type == "boolean":
        if raw.lower() not in ("true", "false"):
            v.errors["default"] = "Say true or false."
            return None
        return raw.lower() == "true"
    if v.type in ("number", "integer"):
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or (v.type == "integer" and not number.is_integer()):
            v.errors["default"] = (
                "This must be a whole number."
                if v.type == "integer"
                else ("This must be a number.")
            )
            return None
        return int(number) if v.type == "integer" or number.is_integer() else number
    parsed = _parse_json(raw, v.errors, "default")
    wanted = dict if v.type == "object" else list
    if "default" not in v.errors and not isinstance(parsed, wanted):
        v.errors["default"] = f"This must be a JSON {'object' if v.type == 'object' else 'list'}."
    return parsed


def _integrations(text: str) -> list[str] | str:
    if text.strip() == "*":
        return "*"
    return [p.strip() for p in text.split(",") if p.strip()]


def definition_of(form: AgentForm) -> dict[str, Any]:
    """The definition the form describes; what cannot be read goes on its field as an error."""
    if not form.name:
        form.errors["name"] = "Give the agent a name."
    variables: dict[str, Any] = {}
    for v in form.variables:
        if not v.name:
            v.errors["name"] = "Give the variable a name."
            continue
        if v.name in variables:
            v.errors["name"] = f"There is another variable named {v.name}."
            continue
        spec: dict[str, Any] = {"type": v.type}
        default = typed_default(v)
        if default is not None:
            spec["default"] = default
        if v.description:
            spec["description"] = v.description
        variables[v.name] = spec
    steps: list[dict[str, Any]] = []
    for s in form.steps:
        if not s.name:
            s.errors["name"] = "Give the step a name."
        output: dict[str, Any] = {"format": s.format}
        if s.format == "json":
            output["schema"] = _parse_json(s.schema, s.errors, "schema")
            output["retry_invalid"] = s.retry_invalid
        if s.format == "file":
            if not s.file_name:
                s.errors["file_name"] = "Name the file the step writes."
            output["file_name"] = s.file_name
        steps.append(
            {
                "name": s.name,
                "instructions": s.instructions,
                "model": s.model or None,
                "reasoning_effort": s.reasoning_effort or None,
                "tools": list(s.tools),
                "output": output,
            }
        )
    definition: dict[str, Any] = {
        "name": form.name,
        "kind": "steps",
        "description": form.description,
        "variables": variables,
        "model": None,
        "integrations": _integrations(form.integrations),
        "steps": steps,
    }
    if form.model:
        definition["model"] = {
            "name": form.model,
            "reasoning_effort": form.reasoning_effort or None,
        }
    elif form.reasoning_effort:
        form.errors["reasoning_effort"] = "Pick a default model to give it a reasoning effort."
    schema = _parse_json(form.input_schema, form.errors, "input_schema")
    if schema is not None:
        definition["input_schema"] = schema
    rules = _parse_json(form.approval_rules, form.errors, "approval_rules")
    if rules is not None:
        if isinstance(rules, list):
            definition["approval_rules"] = rules
        else:
            form.errors["approval_rules"] = 'A JSON list, like [{"tool": "send_email"}].'
    if form.timeout:
        try:
            seconds = float(form.timeout)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds) or seconds <= 0:
            form.errors["timeout_seconds"] = "A number of seconds, more than 0."
        else:
            definition["timeout_seconds"] = seconds
    return definition


# -- the service's errors, next to their field -----------------------------------------

STEP_FIELDS = {
    "name": "name",
    "instructions": "instructions",
    "model": "model",
    "reasoning_effort": "reasoning_effort",
    "tools": "tools",
    "output": "format",
    "format": "format",
    "schema": "schema",
    "retry_invalid": "schema",
    "file_name": "file_name",
}


def path_of(name: str) -> list[str]:
    """``steps[1].output.schema`` or ``steps.1.output.schema`` as its parts."""
    return [p for p in re.split(r"[.\[\]/]+", name) if p]


def place_error(form: AgentForm, name: str, message: str) -> None:
    """Put a validation error on the field its ``name`` (a path into the definition) is
    about; the form as a whole when it names none of them."""
    parts = path_of(name)
    if parts and parts[0] == "definition":
        parts = parts[1:]
    head = parts[0] if parts else ""
    if head == "steps" and len(parts) > 1:
        which = parts[1]
        step = None
        if which.isdigit() and int(which) < len(form.steps):
            step = form.steps[int(which)]
        else:
            step = next((s for s in form.steps if s.name == which), None)
        if step is not None:
            rest = [p for p in parts[2:] if not p.isdigit()]
            target = next((STEP_FIELDS[p] for p in reversed(rest) if p in STEP_FIELDS), "name")
            if not rest:
                target = "name"
            step.errors.setdefault(target, message)
            return
    if head == "variables" and len(parts) > 1:
        var = next((v for v in form.variables if v.name == parts[1]), None)
        if var is not None:
            field_name = parts[2] if len(parts) > 2 and parts[2] in ("type", "default") else "name"
            var.errors.setdefault(field_name, message)
            return
    if head in (
        "name",
        "description",
        "input_schema",
        "integrations",
        "approval_rules",
        "timeout_seconds",
    ):
        form.errors.setdefault(head, message)
        return
    if head == "model":
        form.errors.setdefault(
            "reasoning_effort" if "reasoning_effort" in parts else "model", message
        )
        return
    form.errors.setdefault("", message)
