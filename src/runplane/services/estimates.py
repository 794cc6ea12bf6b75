"""Estimating a run's credits before it starts, from its revision and its input."""

from collections.abc import Mapping

from runplane.domain.json import JSON, JSONObject
from runplane.engine.metering import OUTPUT_ALLOWANCE, estimate_tokens
from runplane.schemas import RunCreate
from runplane.services.prices import price_of
from runplane.services.runtime import Runtime

# The model a step runs on when neither it, its run nor its agent names one.
OFFLINE = "offline"


async def estimate(
    rt: Runtime, tenant_id: str, config: Mapping[str, JSON], body: RunCreate
) -> JSONObject:
    """The credits a run of this revision with this body is expected to cost, step by step.

    A step agent's steps each send their instructions, the input and the earlier steps'
    answers, and answer in ``OUTPUT_ALLOWANCE`` tokens; a code agent is estimated as one
    such call if its revision declares a ``model``, else not at all (``credits`` None).
    """
    default = _model_name(config.get("model")) or (body.model.name if body.model else None)
    overrides = getattr(body, "step_overrides", None) or {}
    input_tokens = estimate_tokens(body.input) if body.input is not None else 0
    steps = config.get("steps")
    calls: list[tuple[str, str, int]] = []
    if isinstance(steps, list):
        earlier = 0
        for step in steps:
            if not isinstance(step, dict):
                continue
            name = str(step.get("name") or f"step {len(calls) + 1}")
            override = overrides.get(name) if isinstance(overrides, dict) else None
            model = (
                _model_name(_field(override, "model"))
                or _model_name(step.get("model"))
                or default
                or OFFLINE
            )
            prompt = estimate_tokens(str(step.get("instructions") or ""))
            calls.append((name, model, prompt + input_tokens + earlier))
            earlier += OUTPUT_ALLOWANCE
    elif default is not None and config.get("model") is not None:
        calls.append(("model", default, input_tokens))
    if not calls:
        return {"credits": None, "steps": []}
    total: float | None = 0.0
    out: list[JSON] = []
    for name, model, tokens in calls:
        info = await price_of(rt.db, tenant_id, model)
        usage = {"input_tokens": tokens, "output_tokens": OUTPUT_ALLOWANCE}
        credits = None if info is None else info.credits(usage)
        total = None if total is None or credits is None else round(total + credits, 6)
        entry: JSONObject = {"name": name, "model": model, "usage": dict(usage), "credits": credits}
        out.append(entry)
    return {"credits": total, "steps": out}


def _field(value: object, name: str) -> object:
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)


def _model_name(value: object) -> str | None:
    """A model named as a string, or as ``{"name": ...}``."""
    if isinstance(value, str) and value:
        return value
    name = _field(value, "name")
    return name if isinstance(name, str) and name else None
