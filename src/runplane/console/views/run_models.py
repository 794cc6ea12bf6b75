"""What the run page says about models: each step's model and reasoning effort (the
agent's default and the run's override), its tokens and credits, and the run's totals.

Every field is read with ``.get``: runs and steps recorded before usage was tracked
(and code agents that never call a model) have none of them, and the page says so.
"""

from collections.abc import Mapping, Sequence
from typing import Any

TOKEN_KINDS = (
    ("input_tokens", "in"),
    ("output_tokens", "out"),
    ("cached_tokens", "cached"),
    ("reasoning_tokens", "reasoning"),
)


def step_defaults(definition: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Per step name, the model and effort a steps agent's revision gives it (its own or
    the agent's default); empty for any other agent."""
    if not definition or definition.get("kind") != "steps":
        return {}
    agent_model = definition.get("model") or {}
    if not isinstance(agent_model, Mapping):
        agent_model = {"name": agent_model}
    found: dict[str, dict[str, Any]] = {}
    for step in definition.get("steps") or []:
        if not isinstance(step, Mapping) or not step.get("name"):
            continue
        found[str(step["name"])] = {
            "model": step.get("model") or agent_model.get("name") or None,
            "reasoning_effort": step.get("reasoning_effort")
            or agent_model.get("reasoning_effort")
            or None,
        }
    return found


def agent_model(definition: Mapping[str, Any] | None) -> str | None:
    """A steps agent's default model, if its revision names one."""
    if not definition or definition.get("kind") != "steps":
        return None
    model = definition.get("model")
    name = model.get("name") if isinstance(model, Mapping) else model
    return str(name) if name else None


def _base_name(name: str) -> str:
    """A tool-loop round ``draft (2)`` belongs to step ``draft``."""
    head, sep, tail = name.rpartition(" (")
    return head if sep and tail.endswith(")") and tail[:-1].isdigit() else name


def tokens(usage: Any) -> list[tuple[str, int]]:
    """A usage mapping as (label, count) pairs, in a fixed order; [] when there is none.

    Takes a ``usage`` object or a step row with one column per count alike.
    """
    if not isinstance(usage, Mapping) or all(usage.get(k) is None for k, _ in TOKEN_KINDS):
        return []
    pairs = [(label, usage.get(key)) for key, label in TOKEN_KINDS]
    return [(label, int(n)) for label, n in pairs if isinstance(n, int | float)]


def credits_text(value: Any) -> str:
    """Credits as people read them: ``0.0123``, ``12.5``; ``—`` when not known."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "—"
    if value == 0:
        return "0"
    if abs(value) < 0.0001:
        return "< 0.0001"
    if abs(value) < 1:
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def step_view(
    step: Mapping[str, Any],
    defaults: Mapping[str, Mapping[str, Any]],
    overrides: Mapping[str, Any],
) -> dict[str, Any]:
    """One step's model facts: used, default, override, tokens, credits."""
    row = dict(step)
    name = _base_name(str(row.get("name") or ""))
    default = defaults.get(name) or {}
    override = overrides.get(name) if isinstance(overrides.get(name), Mapping) else None
    override = override or {}
    model = row.get("model")
    effort = row.get("reasoning_effort")
    return {
        "model": model,
        "reasoning_effort": effort,
        "default_model": default.get("model"),
        "default_effort": default.get("reasoning_effort"),
        "override_model": override.get("model"),
        "override_effort": override.get("reasoning_effort"),
        "tokens": tokens(row.get("usage") or row),
        "credits": row.get("credits"),
        "credits_text": credits_text(row.get("credits")),
        "has_model": bool(
            model or effort or default or override or row.get("usage") or tokens(row)
        ),
    }


def run_credits(run: Mapping[str, Any]) -> dict[str, Any]:
    """The run's estimated and actual credits and its total tokens (None: not tracked)."""
    credits = run.get("credits")
    estimated, actual = run.get("credits_estimated"), run.get("credits_actual")
    if isinstance(credits, Mapping):
        estimated, actual = credits.get("estimated"), credits.get("actual")
    return {
        "tracked": any(k in run for k in ("credits", "credits_actual", "usage")),
        "estimated": credits_text(estimated),
        "actual": credits_text(actual),
        "tokens": tokens(run.get("usage")),
    }


def overrides_of(run: Mapping[str, Any]) -> dict[str, Any]:
    """The run's per-step overrides, {} when it has none (kept in its model settings as
    ``steps``; the API shows them as ``step_overrides``)."""
    found = run.get("step_overrides")
    if not isinstance(found, Mapping):
        model = run.get("model")
        found = model.get("steps") if isinstance(model, Mapping) else None
    return dict(found) if isinstance(found, Mapping) else {}


def step_views(
    steps: Sequence[Mapping[str, Any]],
    definition: Mapping[str, Any] | None,
    run: Mapping[str, Any],
) -> dict[int, dict[str, Any]]:
    """Every step's model facts, by step number."""
    defaults, overrides = step_defaults(definition), overrides_of(run)
    return {int(s["number"]): step_view(s, defaults, overrides) for s in steps}
