"""Plans from a model, and the references between a plan's steps.

``llm_messages`` asks a model for a plan in the format ``plan_offline`` produces;
``plan_from_llm`` checks what it answers. ``resolve_refs`` fills an argument
``{"$ref": "steps.N.output"}`` with step N's output when a step runs.
"""

import json
import re
from typing import Any

from runplane.domain.errors import RunError

MAX_STEPS = 20
REF_PATTERN = re.compile(r"^steps\.(\d+)\.output$")
META_KEYS = frozenset({"id", "created_at", "updated_at"})
MAIN_KEYS = ("text", "title", "subject", "name", "summary", "content", "body")


# -- plans from a model ----------------------------------------------------------------

PLAN_FORMAT = """Answer with one JSON object of this shape and nothing else:
{"steps": [{"number": 1, "tool": "<tool name>", "arguments": {...}, "why": "<one sentence>"}]}
Rules:
- Use only the tools listed, with arguments that match their JSON Schema.
- Number the steps 1, 2, 3... in the order they should run; read before you write.
- To pass the output of an earlier step N as an argument, write {"$ref": "steps.N.output"}.
- Use as few steps as the request needs; if no tool fits, answer {"steps": []}."""


def llm_messages(
    intent: str, context: dict[str, Any], tools: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The chat messages that ask a model for a plan: tools and format, then the request."""
    catalogue = [
        {
            "name": t["name"],
            "description": t.get("description") or "",
            "integration": t.get("integration"),
            "parameters": t.get("parameters") or {},
        }
        for t in tools
    ]
    system = (
        "You plan how to carry out a person's request with tools. You do not call the "
        "tools; you write the plan that will.\n\n"
        f"Tools:\n{json.dumps(catalogue, indent=2, sort_keys=True)}\n\n{PLAN_FORMAT}"
    )
    user = f"Request: {intent}"
    if context:
        user += f"\nContext: {json.dumps(context, sort_keys=True, default=str)}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def plan_from_llm(text: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
    """Parse and check a model's plan; ``RunError(code="invalid_plan")`` says what is wrong."""
    data = _parse_json(text)
    raw_steps = data.get("steps") if isinstance(data, dict) else data
    if not isinstance(raw_steps, list):
        raise _invalid("the plan has no list of steps")
    if len(raw_steps) > MAX_STEPS:
        raise _invalid(f"the plan has {len(raw_steps)} steps; at most {MAX_STEPS} are allowed")
    names = {t["name"] for t in tools}
    steps = []
    for number, raw in enumerate(raw_steps, start=1):
        if not isinstance(raw, dict):
            raise _invalid(f"step {number} is not an object")
        if raw.get("number", number) != number:
            raise _invalid(f"step {number} is numbered {raw.get('number')!r}")
        tool = raw.get("tool")
        if tool not in names:
            raise _invalid(f"step {number} uses {tool!r}, which is not a tool this run may call")
        arguments = raw.get("arguments", {})
        if not isinstance(arguments, dict):
            raise _invalid(f"step {number}: arguments must be an object")
        for ref in _refs(arguments):
            found = REF_PATTERN.match(ref) if isinstance(ref, str) else None
            if not found or not 1 <= int(found.group(1)) < number:
                raise _invalid(f"step {number} refers to {ref!r}, which is not an earlier step")
        why = raw.get("why")
        steps.append(
            {
                "number": number,
                "tool": tool,
                "arguments": arguments,
                "why": why if isinstance(why, str) else "",
            }
        )
    intent = data.get("intent") if isinstance(data, dict) else None
    return {"intent": intent if isinstance(intent, str) else None, "planner": "llm", "steps": steps}


def _parse_json(text: str) -> Any:
    # Models wrap JSON in a code fence even when told not to.
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    body = fenced.group(1) if fenced else text
    try:
        return json.loads(body)
    except ValueError as exc:
        raise _invalid(f"the plan is not JSON: {exc}") from exc


def _refs(value: Any) -> list[Any]:
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            return [value["$ref"]]
        return [ref for item in value.values() for ref in _refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return []


def _invalid(message: str) -> RunError:
    return RunError(f"invalid plan: {message}", code="invalid_plan")


# -- running a plan --------------------------------------------------------------------


def step_refs(arguments: dict[str, Any]) -> list[int]:
    """The numbers of the earlier steps whose outputs these arguments use."""
    numbers = []
    for ref in _refs(arguments):
        found = REF_PATTERN.match(ref) if isinstance(ref, str) else None
        if found:
            numbers.append(int(found.group(1)))
    return sorted(set(numbers))


def resolve_refs(
    arguments: dict[str, Any],
    outputs: dict[int, Any],
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Replace each ``{"$ref": "steps.N.output"}`` with step N's output.

    With the tool's JSON Schema as ``parameters``, a string parameter that receives a
    non-string output gets it as readable text (a list becomes bullet lines).
    """
    properties = (parameters or {}).get("properties") or {}
    resolved = {}
    for name, value in arguments.items():
        new = _resolve(value, outputs)
        if (
            _refs(value)
            and not isinstance(new, str)
            and schema_type(properties.get(name) or {}) == "string"
        ):
            new = render_text(new)
        resolved[name] = new
    return resolved


def _resolve(value: Any, outputs: dict[int, Any]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            found = REF_PATTERN.match(str(value["$ref"]))
            if not found or int(found.group(1)) not in outputs:
                raise _invalid(f"{value['$ref']!r} names no earlier step's output")
            return outputs[int(found.group(1))]
        return {k: _resolve(v, outputs) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, outputs) for v in value]
    return value


def render_text(value: Any) -> str:
    """A tool's output as text a person reads: lists as bullet lines, records by their text."""
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(f"- {_item_text(item)}" for item in value) if value else "(none)"
    if isinstance(value, dict):
        if any(k in value for k in MAIN_KEYS):
            return _item_text(value)
        lines = []
        for key, item in value.items():
            if key in META_KEYS:
                continue
            if isinstance(item, list):
                lines.append(f"{key}:")
                lines += [f"  - {_item_text(x)}" for x in item] or ["  (none)"]
            else:
                lines.append(f"{key}: {_item_text(item)}")
        return "\n".join(lines)
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _item_text(item: Any) -> str:
    if not isinstance(item, dict):
        return item if isinstance(item, str) else json.dumps(item, default=str)
    main = next((str(item[k]) for k in MAIN_KEYS if item.get(k) not in (None, "")), None)
    if main is None:
        return ", ".join(f"{k}: {v}" for k, v in item.items() if k not in META_KEYS)
    return f"{item['time']} {main}" if item.get("time") else main


def schema_type(schema: dict[str, Any]) -> str | None:
    """The JSON type a schema names (the first non-null one of a union)."""
    if "type" in schema:
        kind = schema["type"]
        return kind if isinstance(kind, str) else next((k for k in kind if k != "null"), None)
    for option in schema.get("anyOf") or []:
        if option.get("type") not in (None, "null"):
            return str(option["type"])
    return None
