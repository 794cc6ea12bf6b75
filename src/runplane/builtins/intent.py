"""The built-in ``intent`` agent: a request in plain words, planned, shown, then carried out."""

from typing import Any

from runplane.agents.planner import plan_offline
from runplane.agents.plans import llm_messages, plan_from_llm, resolve_refs, step_refs
from runplane.agents.spec import agent
from runplane.domain.errors import RunError, ToolError
from runplane.engine.context import RunContext

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["intent"],
    "properties": {"intent": {"type": "string", "minLength": 1, "maxLength": 2000}},
    "additionalProperties": False,
}


@agent(
    "intent",
    description=(
        "Turn a request in plain words into a plan of tool calls, record the plan, "
        "then make the calls; a rejected call is skipped."
    ),
    input_schema=INPUT_SCHEMA,
    output="json",
    integrations="*",
    plans_first=True,
)
async def intent_agent(ctx: RunContext, input: dict[str, Any]) -> dict[str, Any]:
    """Plan with the configured model (or offline by matching words), then run the plan."""
    intent = " ".join(str(input["intent"]).split())
    tools: list[dict[str, Any]] = ctx.allowed_tools()
    if ctx.has_llm:
        reply = await ctx.llm(llm_messages(intent, ctx.context, tools), json_mode=True, name="plan")
        plan = {**plan_from_llm(reply, tools), "intent": intent}
    else:
        recorded = await ctx.step("plan", plan_offline, intent, ctx.context, tools)
        assert isinstance(recorded, dict)  # the plan, as plan_offline made it
        plan = recorded

    incomplete = [s for s in plan["steps"] if s.get("missing")]
    if incomplete:
        # Fail before asking anyone to approve a plan that cannot run.
        gaps = "; ".join(
            f"step {s['number']} ({s['tool']}) needs {', '.join(s['missing'])}" for s in incomplete
        )
        await ctx.reason(f"The request does not say everything the plan needs: {gaps}.")
        raise RunError(
            f"incomplete plan: {gaps}; say it in the intent or pass it in the run's context",
            code="incomplete_plan",
        )
    if not plan["steps"]:
        await ctx.reason("None of the tools this run may call matches the request.")
    await ctx.plan(plan, format="json")

    parameters = {t["name"]: t.get("parameters") or {} for t in tools}
    outputs: dict[int, Any] = {}
    not_done: set[int] = set()
    results: list[dict[str, Any]] = []
    for step in plan["steps"]:
        number, name = int(step["number"]), step["tool"]
        result: dict[str, Any] = {"number": number, "tool": name, "arguments": step["arguments"]}
        results.append(result)
        skipped = [n for n in step_refs(step["arguments"]) if n in not_done]
        if skipped:
            # Its input never came: sending an empty summary would be worse than nothing.
            not_done.add(number)
            result["error"] = {
                "code": "skipped",
                "message": f"needs the output of step {', '.join(map(str, skipped))}, which did not run",
            }
            await ctx.reason(f"Skipping step {number} ({name}): {result['error']['message']}.")
            continue
        arguments = resolve_refs(step["arguments"], outputs, parameters.get(name))
        result["arguments"] = arguments
        try:
            outputs[number] = await ctx.tool(name, **arguments)
        except ToolError as exc:
            if exc.code != "tool_rejected":
                raise
            not_done.add(number)
            result["error"] = {"code": exc.code, "message": exc.message}
            await ctx.reason(
                f"Step {number} ({name}) was rejected, so it is skipped: {exc.message}"
            )
            continue
        result["output"] = outputs[number]
    return {"intent": intent, "plan": plan, "results": results}
