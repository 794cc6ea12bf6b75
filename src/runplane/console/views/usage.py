"""The usage page: credits or tokens per day, stacked per agent, as an inline SVG chart
(no script, nothing fetched from elsewhere), with the totals per agent and per model."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from runplane.console.session import UserDep
from runplane.console.views.common import render
from runplane.console.views.run_models import credits_text
from runplane.services import usage as usage_svc

router = APIRouter()

RANGES = (7, 14, 30, 90)
METRICS = {"credits": "Credits", "tokens": "Tokens"}
COLOURS = ("#3538cd", "#12b76a", "#f79009", "#e31b54", "#0ba5ec", "#7a5af8", "#667085", "#a15c07")
MAX_SERIES = len(COLOURS) - 1  # the rest are summed as "other agents"
WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 36


@dataclass
class Bar:
    """One stacked piece of a day's bar."""

    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass
class Chart:
    """The chart's drawing: bars, axis ticks, day labels and the legend."""

    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)
    labels: list[tuple[float, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    empty: bool = True


def amount(row: Mapping[str, Any], metric: str) -> float:
    """A usage row's credits, or its tokens (input + output)."""
    if metric == "credits":
        return float(row.get("credits") or 0.0)
    usage = row.get("usage") or {}
    return float((usage.get("input_tokens") or 0) + (usage.get("output_tokens") or 0))


def _nice(top: float) -> float:
    """A round axis maximum at or above ``top`` (its quarters round too)."""
    if top <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(top))
    return float(
        next(m * power for m in (1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10) if m * power >= top)
    )


def _fmt(value: float, metric: str) -> str:
    return credits_text(value) if metric == "credits" else f"{int(value):,}"


def draw(days: Sequence[date], per_day: Mapping[date, Mapping[str, float]], metric: str) -> Chart:
    """The chart of ``per_day[day][agent]`` amounts, the biggest agents in their own colour."""
    chart = Chart()
    totals: dict[str, float] = {}
    for found in per_day.values():
        for agent, value in found.items():
            totals[agent] = totals.get(agent, 0.0) + value
    ranked = [a for a, v in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])) if v > 0]
    own = ranked[:MAX_SERIES] if len(ranked) > MAX_SERIES + 1 else ranked
    colour = {agent: COLOURS[i] for i, agent in enumerate(own)}
    other = "other agents"
    chart.legend = [(agent, colour[agent]) for agent in own]
    if len(own) < len(ranked):
        chart.legend.append((other, COLOURS[-1]))
    top = max((sum(per_day.get(d, {}).values()) for d in days), default=0.0)
    chart.empty = not any(per_day.values())
    scale_top = _nice(top)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    bar_w = max(2.0, slot * 0.7)
    for i in range(5):
        tick = scale_top * i / 4
        chart.ticks.append((round(TOP + plot_h - plot_h * i / 4, 1), _fmt(tick, metric)))
    every = max(1, math.ceil(len(days) / 10))
    for i, day in enumerate(days):
        x = LEFT + slot * i + (slot - bar_w) / 2
        if i % every == 0 or i == len(days) - 1:
            chart.labels.append((round(x + bar_w / 2, 1), day.strftime("%m-%d")))
        found = per_day.get(day, {})
        pieces: dict[str, float] = {}
        for agent, value in found.items():
            key = agent if agent in colour else other
            pieces[key] = pieces.get(key, 0.0) + value
        base = float(TOP + plot_h)
        for agent in [*own, other]:
            value = pieces.get(agent, 0.0)
            if value <= 0:
                continue
            h = plot_h * value / scale_top
            base -= h
            chart.bars.append(
                Bar(
                    x=round(x, 1),
                    y=round(base, 1),
                    width=round(bar_w, 1),
                    height=round(max(h, 0.5), 1),
                    colour=colour.get(agent, COLOURS[-1]),
                    title=f"{day.isoformat()} · {agent}: {_fmt(value, metric)} {metric}",
                )
            )
    return chart


async def _totals(
    request: Request, user: Any, group_by: str, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """``GET /v1/usage``'s rows, as plain mappings."""
    found = await usage_svc.usage_totals(request.app.state.rt, user.who, group_by, since, until)
    return [item.model_dump() for item in found.items]


@router.get("/usage")
async def usage_page(
    request: Request,
    user: UserDep,
    days: Annotated[int, Query()] = 30,
    metric: Annotated[str, Query()] = "credits",
) -> Response:
    """The tenant's model usage over the last days: a chart per day and agent, and totals."""
    days = days if days in RANGES else 30
    metric = metric if metric in METRICS else "credits"
    today = datetime.now(UTC).date()
    shown = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    since = datetime.combine(shown[0], time(), tzinfo=UTC)
    until = datetime.combine(today + timedelta(days=1), time(), tzinfo=UTC)
    per_day: dict[date, dict[str, float]] = {}
    by_day = await _totals(request, user, "day", since, until)
    for row in by_day:
        # the split per agent, for the days that have any usage
        day = date.fromisoformat(str(row["key"])[:10])
        start = datetime.combine(day, time(), tzinfo=UTC)
        split = await _totals(request, user, "agent", start, start + timedelta(days=1))
        per_day[day] = {str(r["key"]): amount(r, metric) for r in split}
    by_agent = await _totals(request, user, "agent", since, until)
    by_model = await _totals(request, user, "model", since, until)
    return render(
        request,
        "usage.html",
        user,
        chart=draw(shown, per_day, metric),
        days=days,
        metric=metric,
        METRICS=METRICS,
        RANGES=RANGES,
        since=shown[0],
        until=today,
        by_agent=[_row(r) for r in by_agent],
        by_model=[_row(r) for r in by_model],
        by_day=[_row(r) for r in by_day],
        total=credits_text(sum(float(str(r["credits"])) for r in by_agent)),
    )


def _row(row: Mapping[str, Any]) -> dict[str, Any]:
    usage = row.get("usage") or {}
    return {
        "key": str(row.get("key") or "—"),
        "calls": row.get("calls") or 0,
        "runs": row.get("runs") or 0,
        "input": usage.get("input_tokens") or 0,
        "output": usage.get("output_tokens") or 0,
        "cached": usage.get("cached_tokens") or 0,
        "reasoning": usage.get("reasoning_tokens") or 0,
        "credits": credits_text(row.get("credits") or 0.0),
    }
