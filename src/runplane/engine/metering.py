"""Metering a run's model calls: tokens and credits per call, the run's totals, budgets.

Every ``ctx.complete`` call not recorded yet asks ``Meter.admit`` first: its estimate
(the messages' tokens plus an output allowance, priced by the catalogue) is held
against the run's own budget and its agent's and tenant's. Past a hard ceiling the run
fails with ``budget_exceeded``; past a soft limit it pauses in a ``budget`` wait (no
slot held) until the budget is raised or the overrun approved, then replays to the same
call. When the call is made, its usage and credits go on its step, and the run's totals
on the run, in the step's transaction.
"""

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from runplane.domain.errors import RunError
from runplane.domain.events import BudgetNeed
from runplane.domain.json import JSON, JSONObject
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import BudgetRecord, RunRecord, utcnow
from runplane.engine.outcome import Suspend
from runplane.providers.base import USAGE_KEYS, empty_usage
from runplane.providers.catalog import ModelInfo
from runplane.store import usage as usage_store
from runplane.store.db import Database

# The prices of a model name for the run's tenant (None: not in the catalogue).
Prices = Callable[[str], Awaitable[ModelInfo | None]]
# Tokens a call's answer is assumed to take, for estimates before it is made.
OUTPUT_ALLOWANCE = 500
# Characters per token in an estimate (the usual rule of thumb for English text).
CHARS_PER_TOKEN = 4


def estimate_tokens(value: object) -> int:
    """About how many tokens a text (or a JSON value, as JSON) takes."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def call_estimate(
    messages: Sequence[Mapping[str, JSON]], info: ModelInfo | None
) -> tuple[int, float | None]:
    """The tokens and credits a call with these messages is expected to take."""
    usage = empty_usage()
    usage["input_tokens"] = sum(estimate_tokens(m.get("content") or "") for m in messages)
    usage["output_tokens"] = OUTPUT_ALLOWANCE
    tokens = usage["input_tokens"] + usage["output_tokens"]
    return tokens, None if info is None else info.credits(usage)


def period_start(period: str, now: datetime) -> datetime | None:
    """Where a budget's period began (None: ``total``, since ever)."""
    now = now.astimezone(UTC)
    if period == "day":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return None


class Meter:
    """One attempt's metering of a run's model calls."""

    def __init__(self, db: Database, run: RunRecord, prices: Prices) -> None:
        self._db = db
        self._run = run
        self._prices = prices
        self._known: dict[str, ModelInfo | None] = {}
        self.usage: dict[str, int] = {**empty_usage(), **(run["usage"] or {})}
        self.credits = float(run["credits_actual"] or 0.0)

    async def price(self, model: str | None) -> ModelInfo | None:
        """The catalogue's entry for a model (for the run's tenant), remembered."""
        if not model:
            return None
        if model not in self._known:
            self._known[model] = await self._prices(model)
        return self._known[model]

    async def cost(
        self, answered: str, asked: str | None, usage: Mapping[str, int]
    ) -> float | None:
        """The credits of a call: priced as the model that answered, else as the one asked."""
        info = await self.price(answered) or await self.price(asked)
        return None if info is None else info.credits(dict(usage))

    def add(self, usage: Mapping[str, int], credits: float | None) -> dict[str, object]:
        """Count a call into the run's totals; the run's columns that show them."""
        for key in USAGE_KEYS:
            self.usage[key] = self.usage.get(key, 0) + int(usage.get(key, 0))
        if credits is not None:
            self.credits = round(self.credits + credits, 6)
        return {"usage": dict(self.usage), "credits_actual": self.credits}

    @property
    def tokens(self) -> int:
        """The run's tokens so far (input + output; cached and reasoning are within them)."""
        return self.usage.get("input_tokens", 0) + self.usage.get("output_tokens", 0)

    async def admit(
        self, step: str, model: str | None, messages: Sequence[Mapping[str, JSON]]
    ) -> None:
        """Let the call go ahead, or pause the run (soft limit) or fail it (hard ceiling)."""
        async with self._db.read() as conn:
            # One read when nothing is budgeted: the run's own budget (it may have been
            # raised meanwhile) and its tenant's and agent's together.
            found, shared = await usage_store.limits_for(conn, self._run["id"])
            own = found or {}
            limits = _limits("run", own, self.tokens, self.credits)
            for budget in shared:
                scope = "tenant" if budget["scope"] == "tenant" else "agent"
                agent = None if scope == "tenant" else self._run["agent_name"]
                since = period_start(budget["period"], utcnow())
                # This run's own calls count from memory: the last may not be written yet.
                tokens_used, credits_used = await usage_store.spent(
                    conn, self._run["tenant_id"], agent, since, besides=self._run["id"]
                )
                used = (tokens_used + self.tokens, credits_used + self.credits)
                limits += _limits(scope, _as_limits(budget), *used)
        if not limits:
            return
        tokens, credits = call_estimate(messages, await self.price(model))
        needs = {"tokens": float(tokens), "credits": credits}
        approved = own.get("approved")
        overrun = approved if isinstance(approved, dict) else {}
        for limit in limits:
            need = needs[limit.unit]
            if need is None:
                continue
            if limit.hard is not None and limit.used + need > limit.hard:
                raise RunError(
                    f"{step} would pass the {limit.scope}'s hard ceiling of {limit.hard:g} "
                    f"{limit.unit} ({limit.used:g} used, the call needs about {need:g})",
                    code="budget_exceeded",
                )
            soft = None if limit.soft is None else limit.soft + (_num(overrun.get(limit.unit)) or 0)
            if soft is not None and limit.used + need > soft:
                wait: BudgetNeed = {
                    "scope": limit.scope,
                    "unit": limit.unit,
                    "limit": soft,
                    "used": round(limit.used, 6),
                    "needs": round(need, 6),
                    "step": step,
                }
                raise Suspend(
                    RunStatus.PAUSED,
                    None,
                    event=("budget.exceeded", wait),
                    waiting_on={"kind": "budget", "budget": wait},
                )


@dataclass(frozen=True)
class Limit:
    """One limit a call is held to: its scope and unit, soft and hard, and what is used."""

    scope: str
    unit: str
    soft: float | None
    hard: float | None
    used: float


def _as_limits(budget: BudgetRecord) -> JSONObject:
    hard: JSONObject = {"credits": budget["hard_credits"], "tokens": budget["hard_tokens"]}
    return {"credits": budget["credits"], "tokens": budget["tokens"], "hard_ceiling": hard}


def _limits(
    scope: str, limits: Mapping[str, JSON], tokens_used: float, credits_used: float
) -> list[Limit]:
    hard = limits.get("hard_ceiling")
    ceiling = hard if isinstance(hard, dict) else {}
    found = [
        Limit(
            scope,
            "credits",
            _num(limits.get("credits")),
            _num(ceiling.get("credits")),
            credits_used,
        ),
        Limit(
            scope, "tokens", _num(limits.get("tokens")), _num(ceiling.get("tokens")), tokens_used
        ),
    ]
    return [f for f in found if f.soft is not None or f.hard is not None]


def _num(value: JSON) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
