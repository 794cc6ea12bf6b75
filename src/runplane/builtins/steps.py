"""The runner of step agents: a revision's definition, executed step by step through ``ctx``.

Each step renders its instructions (a sandboxed Jinja2 template over the run's input,
variables, earlier steps' outputs and files), asks the model through ``ctx.complete``
(one durable journal step per model call, named after the step), lets the model call
the step's tools through ``ctx.tool`` (the run's allow-list and approvals apply) for a
bounded number of rounds, then shapes the answer into the step's output format.

Which model a step uses, first found: the run's ``step_overrides`` for the step, the
run's ``model``, the step's own ``model``, the agent's ``model``, ``offline``. The
reasoning effort is chosen the same way.
"""

import json
from collections.abc import Mapping
from typing import Any

from jinja2 import TemplateError

from runplane.agents.spec import AgentSpec
from runplane.agents.steps import DEFAULT_MODEL, template_environment
from runplane.domain.errors import RunError, ToolError
from runplane.domain.json import JSON, JSONObject
from runplane.domain.models import RevisionRecord
from runplane.engine.context import RunContext
from runplane.engine.files import FileHandle

# Model calls one step may make answering tool results, before it fails (``tool_loop``).
MAX_TOOL_ROUNDS = 8
# The run's files a template and the model see, each cut to this many characters.
MAX_FILE_CHARS = 200_000
# The event that shows, before each step, its model (and the default) and its instructions.
PREPARED = "steps.prepared"
MAX_SHOWN_CHARS = 20_000
TEXT_MEDIA = ("text/", "application/json", "application/xml", "application/yaml")
SYSTEM = (
    "You are one step of an agent. Follow the instructions. The run's files, when there "
    "are any, are given as documents; cite them by id."
)


def steps_spec(name: str, revision: RevisionRecord) -> AgentSpec:
    """The agent a worker runs for a revision of a step agent."""
    config: JSONObject = revision["config"]

    async def run_steps(ctx: RunContext, input: JSON) -> JSON:
        return await run_definition(ctx, config)

    variables = config.get("variables") or {}
    assert isinstance(variables, dict)
    integrations = config.get("integrations")
    return AgentSpec(
        name=name,
        fn=run_steps,
        description=_text(config.get("description")),
        input_schema=_object(config.get("input_schema")),
        output="json" if config.get("output") == "json" else "document",
        output_schema=_object(config.get("output_schema")),
        variables={k: v.get("default") for k, v in variables.items() if isinstance(v, dict)},
        timeout_seconds=float(config.get("timeout_seconds") or 3600.0),  # type: ignore[arg-type]
        kind="steps",
        integrations="*" if integrations == "*" else [str(i) for i in integrations or []],  # type: ignore[union-attr]
        entrypoint=f"steps:{revision['id']}",
        _hash=revision["hash"],
    )


async def run_definition(ctx: RunContext, config: Mapping[str, Any]) -> JSON:
    """Run every step in order; the last one's output is the run's result."""
    env = template_environment()
    files = await _read_files(ctx.files)
    documents: list[JSONObject] = [
        {"id": f["id"], "title": f["name"], "text": f["text"]} for f in files
    ]
    earlier: dict[str, JSONObject] = {}
    steps: list[dict[str, Any]] = list(config["steps"])
    output: JSON = None
    for step in steps:
        name = str(step["name"])
        model, effort = choose_model(config, step, ctx.model or {})
        default_model, default_effort = choose_model(config, step, {})
        scope = {
            "input": ctx.input,
            "variables": ctx.variables,
            "steps": dict(earlier),
            "files": [{"name": f["name"], "text": f["text"]} for f in files],
        }
        try:
            prompt = env.from_string(step["instructions"]).render(scope)
        except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise RunError(
                f"step {name!r}: instructions failed to render: {exc}", code="template_error"
            ) from None
        await ctx.emit(
            PREPARED,
            {
                "step": name,
                "model": model,
                "reasoning_effort": effort,
                "default": {"model": default_model, "reasoning_effort": default_effort},
                "overridden": (model, effort) != (default_model, default_effort),
                "tools": list(step_tools(ctx, step)),
                "instructions": prompt[:MAX_SHOWN_CHARS],
            },
        )
        try:
            output = await _run_step(ctx, step, prompt, model, effort, documents)
        except RunError as exc:
            if exc.code != "unknown_model":
                raise
            raise RunError(f"step {name!r}: {exc.message}", code=exc.code) from exc
        earlier[name] = {"output": output}
    last = steps[-1]["output"]
    if last.get("format") == "file":
        return f"Step {steps[-1]['name']!r} wrote the file {last['file_name']!r}."
    return output


def choose_model(
    config: Mapping[str, Any], step: Mapping[str, Any], run_model: Mapping[str, Any]
) -> tuple[str, str | None]:
    """The model and reasoning effort a step uses in a run (see the module's docstring)."""
    override = (run_model.get("steps") or {}).get(step["name"]) or {}
    agent = config.get("model") or {}
    model = (
        override.get("model")
        or run_model.get("name")
        or step.get("model")
        or agent.get("name")
        or DEFAULT_MODEL
    )
    effort = (
        override.get("reasoning_effort")
        or run_model.get("reasoning_effort")
        or step.get("reasoning_effort")
        or agent.get("reasoning_effort")
    )
    return str(model), effort


async def _run_step(
    ctx: RunContext,
    step: Mapping[str, Any],
    prompt: str,
    model: str,
    effort: str | None,
    documents: list[JSONObject],
) -> JSON:
    name, out = str(step["name"]), step["output"]
    fmt = out.get("format", "text")
    schema = out.get("schema") if fmt == "json" else None
    allowed = step_tools(ctx, step)
    tools: list[JSONObject] = [
        {
            "name": t["name"],
            "description": t.get("description") or "",
            "parameters": t.get("parameters") or {},
        }
        for t in allowed.values()
    ]
    messages: list[JSONObject] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": prompt},
    ]

    async def ask(call_name: str) -> JSONObject:
        return await ctx.complete(
            messages,
            model=model,
            reasoning_effort=effort,
            json_mode=fmt == "json" and schema is None,
            json_schema=schema,
            tools=tools or None,
            documents=documents or None,
            name=call_name,
        )

    reply = await ask(name)
    rounds = 1
    while reply.get("tool_calls"):
        if rounds > MAX_TOOL_ROUNDS:
            raise RunError(
                f"step {name!r}: the model still calls tools after {MAX_TOOL_ROUNDS} rounds",
                code="tool_loop",
            )
        calls: list[JSON] = list(reply["tool_calls"])  # type: ignore[arg-type]
        messages.append(
            {"role": "assistant", "content": reply.get("text") or "", "tool_calls": calls}
        )
        for call in calls:
            assert isinstance(call, dict)  # {"id", "name", "arguments"}, as recorded
            content = await _call_tool(ctx, name, allowed, call)
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": content})
        rounds += 1
        reply = await ask(f"{name} ({rounds})")
    text = str(reply.get("text") or "")
    if fmt == "json":
        return await _json_output(step, text, messages, ask)
    if fmt == "file":
        await ctx.file(str(out["file_name"]), text.encode())
    return text


def step_tools(ctx: RunContext, step: Mapping[str, Any]) -> dict[str, JSONObject]:
    """The tools a step offers the model: those it names that the run's allow-list admits."""
    wanted = set(step.get("tools") or [])
    return {str(t["name"]): t for t in ctx.allowed_tools() if t["name"] in wanted}


async def _call_tool(
    ctx: RunContext, step: str, allowed: Mapping[str, JSONObject], call: Mapping[str, Any]
) -> str:
    """A tool call the model asked for, made; its result (or refusal) as the model reads it."""
    tool = str(call.get("name"))
    if tool not in allowed:
        error = {"code": "tool_not_allowed", "message": f"step {step!r} may not call {tool!r}"}
        return json.dumps({"error": error})
    arguments = call.get("arguments") or {}
    try:
        result = await ctx.tool(tool, **dict(arguments))
    except ToolError as exc:
        return json.dumps({"error": {"code": exc.code, "message": exc.message}})
    return json.dumps(result, default=str)


async def _json_output(
    step: Mapping[str, Any], text: str, messages: list[JSONObject], ask: Any
) -> JSON:
    name, out = str(step["name"]), step["output"]
    schema = out.get("schema")
    value, problem = _parse(text, schema)
    if problem is not None and out.get("retry_invalid"):
        messages.append({"role": "assistant", "content": text})
        messages.append(
            {
                "role": "user",
                "content": f"Your answer is not valid: {problem}. Answer again with only "
                "the JSON value, matching the schema.",
            }
        )
        reply = await ask(f"{name} (retry)")
        value, problem = _parse(str(reply.get("text") or ""), schema)
    if problem is not None:
        raise RunError(f"step {name!r}: {problem}", code="invalid_output")
    return value


def _parse(text: str, schema: JSONObject | None) -> tuple[JSON, str | None]:
    """The JSON value of a model's answer, and what is wrong with it (None when nothing)."""
    body = text.strip()
    if body.startswith("```"):
        # A fenced answer: ```json ... ```
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        return None, f"the answer is not JSON ({exc.msg} at character {exc.pos})"
    if schema is not None:
        import jsonschema  # loaded by the first step that checks a schema

        validator = jsonschema.Draft202012Validator(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is not None:
            at = "/".join(str(p) for p in error.absolute_path)
            where = f" at /{at}" if at else ""
            return value, f"the output does not match its schema{where}: {error.message}"
    return value, None


async def _read_files(handles: list[FileHandle]) -> list[dict[str, str]]:
    """The run's text files, as templates and the model see them."""
    files: list[dict[str, str]] = []
    for f in handles:
        if not f.media_type.startswith(TEXT_MEDIA):
            continue
        text = (await f.read()).decode("utf-8", errors="replace")[:MAX_FILE_CHARS]
        files.append({"id": f.id, "name": f.name, "text": text})
    return files


def _text(value: JSON) -> str | None:
    return value if isinstance(value, str) else None


def _object(value: JSON) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None
