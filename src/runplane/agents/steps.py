"""Step agents: checking a definition when it is saved, and what its revision records.

A step agent is data, not code: an ordered list of steps, each a Jinja2 template of
instructions sent to a model. Everything a run could trip over that can be known when
the definition is saved is checked here (names, templates, the variables and earlier
steps they read, tools, models, JSON Schemas), so that a saved revision fails at run
time only on what depends on the run (its input, its files, the model's answer).
"""

import hashlib
import json
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any, cast

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment
from pydantic import ValidationError

from runplane.domain.errors import Invalid
from runplane.domain.json import JSONObject
from runplane.domain.policy import check_rules
from runplane.providers.catalog import find_model
from runplane.schemas.steps import IDENTIFIER, StepAgentDefinition, StepOverride

# What an instructions template may read, besides Jinja's own globals.
TEMPLATE_NAMES = frozenset({"input", "variables", "steps", "files"})
# Names Jinja itself provides inside loops, blocks and macros.
JINJA_NAMES = frozenset({"loop", "self", "super", "caller", "varargs", "kwargs"})
# The model a step uses when neither it, the agent nor the run names one.
DEFAULT_MODEL = "offline"
VARIABLE_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def template_environment() -> SandboxedEnvironment:
    """The sandbox instructions render in: no attribute of Python's internals, no I/O."""
    return SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )


def known_model(name: str) -> bool:
    """Whether the catalogue knows this model (the one place steps ask it)."""
    return find_model(name) is not None


def parse_definition(data: Mapping[str, object] | StepAgentDefinition) -> StepAgentDefinition:
    """The definition as its wire model; a malformed one is a 422 naming the field."""
    if isinstance(data, StepAgentDefinition):
        return data
    try:
        return StepAgentDefinition.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "definition"
        raise Invalid(
            f"{where}: {first.get('msg', 'invalid')}",
            [{"name": where, "value": first.get("input")}],
        ) from None


def check_definition(
    definition: StepAgentDefinition,
    tools: Collection[str],
    is_known_model: Callable[[str], bool] = known_model,
) -> JSONObject:
    """Check a definition whole; return the revision's ``config`` (422 naming what is wrong)."""
    _check_schema("input_schema", definition.input_schema)
    check_rules([r.model_dump(exclude_none=True) for r in definition.approval_rules])
    for name, variable in definition.variables.items():
        _check_identifier(f"variables.{name}", name)
        if variable.default is not None:
            check_variable_value(f"variables.{name}.default", variable.type, variable.default)
    if definition.model is not None:
        _check_model("model.name", definition.model.name, is_known_model)
    env = template_environment()
    earlier: list[str] = []
    for i, step in enumerate(definition.steps):
        where = f"steps[{i}]"
        if step.name in earlier:
            raise Invalid.field(f"{where}.name", f"two steps are named {step.name!r}", step.name)
        _check_template(
            env,
            f"{where}.instructions",
            step.name,
            step.instructions,
            set(definition.variables),
            earlier,
        )
        if step.model is not None:
            _check_model(f"{where}.model", step.model, is_known_model)
        for tool in step.tools:
            if tool not in tools:
                raise Invalid.field(
                    f"{where}.tools", f"step {step.name!r} names an unknown tool {tool!r}", tool
                )
        out = step.output
        if out.format == "json":
            _check_schema(f"{where}.output.schema", out.json_schema)
        elif out.json_schema is not None or out.retry_invalid:
            raise Invalid.field(
                f"{where}.output.schema",
                f"step {step.name!r}: a schema and retry_invalid only go with format 'json'",
            )
        if out.format == "file" and not out.file_name:
            raise Invalid.field(
                f"{where}.output.file_name", f"step {step.name!r}: a file output needs a file_name"
            )
        if out.format != "file" and out.file_name:
            raise Invalid.field(
                f"{where}.output.file_name",
                f"step {step.name!r}: file_name only goes with format 'file'",
            )
        earlier.append(step.name)
    return revision_config(definition)


def revision_config(definition: StepAgentDefinition) -> JSONObject:
    """What a revision of this definition records: the definition and how its result looks."""
    config = definition.model_dump(mode="json", by_alias=True)
    config["approval_rules"] = [r.model_dump(exclude_none=True) for r in definition.approval_rules]
    last = definition.steps[-1].output
    config["output"] = "json" if last.format == "json" else "document"
    config["output_schema"] = last.json_schema if last.format == "json" else None
    return cast(JSONObject, config)


def config_hash(config: Mapping[str, Any]) -> str:
    """The content hash of a revision's config: the same definition, the same revision."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def check_variable_value(where: str, kind: str, value: Any) -> None:
    """A 422 unless ``value`` has the variable's declared type."""
    types = VARIABLE_TYPES[kind]
    wrong = not isinstance(value, types) or (isinstance(value, bool) and kind != "boolean")
    if wrong:
        raise Invalid.field(where, f"{where} must be of type {kind}", value)


def check_run_variables(config: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """A run's variables: each must be one the agent declares, of its type (422 otherwise)."""
    declared = config.get("variables") or {}
    for name, value in given.items():
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise Invalid.field(
                f"variables.{name}",
                f"agent has no variable {name!r} (its variables: {known})",
                value,
            )
        check_variable_value(f"variables.{name}", declared[name].get("type", "string"), value)


def check_step_overrides(
    config: Mapping[str, Any],
    overrides: Mapping[str, StepOverride],
    is_known_model: Callable[[str], bool] = known_model,
) -> dict[str, Any]:
    """A run's per-step overrides, checked against the revision's steps; as stored."""
    names = [s["name"] for s in config.get("steps") or []]
    stored: dict[str, Any] = {}
    for name, override in overrides.items():
        if name not in names:
            raise Invalid.field(
                f"step_overrides.{name}",
                f"agent has no step {name!r} (its steps: {', '.join(names)})",
                name,
            )
        if override.model is not None:
            _check_model(f"step_overrides.{name}.model", override.model, is_known_model)
        stored[name] = override.model_dump(exclude_none=True)
    return stored


def _check_identifier(where: str, name: str) -> None:
    if not re.match(IDENTIFIER, name):
        raise Invalid.field(where, f"{where}: {name!r} is not a name (letters, digits, _)", name)


def _check_model(where: str, name: str, is_known_model: Callable[[str], bool]) -> None:
    if not is_known_model(name):
        raise Invalid.field(where, f"{where}: unknown model {name!r}", name)


def _check_schema(where: str, schema: dict[str, Any] | None) -> None:
    if schema is None:
        return
    import jsonschema  # here: only a steps agent with a schema needs it

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise Invalid.field(where, f"{where} is not a valid JSON Schema: {exc.message}") from None


def _check_template(
    env: SandboxedEnvironment,
    where: str,
    step: str,
    source: str,
    variables: set[str],
    earlier: list[str],
) -> None:
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise Invalid.field(
            where, f"step {step!r}: instructions do not parse (line {exc.lineno}): {exc.message}"
        ) from None
    bound = _bound_names(tree)
    for node in tree.find_all(nodes.Name):
        if node.ctx != "load" or node.name in bound or node.name in env.globals:
            continue
        if node.name in JINJA_NAMES:
            continue
        if node.name not in TEMPLATE_NAMES:
            raise Invalid.field(
                where,
                f"step {step!r}: instructions use unknown variable {node.name!r} "
                f"(a template reads input, variables, steps and files)",
                node.name,
            )
    for base, key in _lookups(tree):
        if base in bound:
            continue
        if base == "variables" and key not in variables:
            raise Invalid.field(
                where,
                f"step {step!r}: instructions use unknown variable 'variables.{key}'",
                key,
            )
        if base == "steps" and key not in earlier:
            why = "itself" if key == step else "an unknown or later step"
            raise Invalid.field(
                where,
                f"step {step!r}: instructions read 'steps.{key}', {why}; "
                "only earlier steps' outputs are there",
                key,
            )


def _bound_names(tree: nodes.Template) -> set[str]:
    """Names the template assigns itself (``set``, ``for``, macros): not the run's."""
    bound: set[str] = set()
    for node in tree.find_all(nodes.Name):
        if node.ctx in ("store", "param"):
            bound.add(node.name)
    return bound


def _lookups(tree: nodes.Template) -> list[tuple[str, str]]:
    """``variables.x``, ``variables['x']``, ``steps.y``: each base name and constant key."""
    found: list[tuple[str, str]] = []
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name):
            found.append((node.node.name, node.attr))
    for item in tree.find_all(nodes.Getitem):
        if isinstance(item.node, nodes.Name) and isinstance(item.arg, nodes.Const):
            if isinstance(item.arg.value, str):
                found.append((item.node.name, item.arg.value))
    return found
