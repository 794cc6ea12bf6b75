"""The usage page over HTTP: the chart of credits or tokens per day and agent, and totals."""

import html
import re
import uuid
from datetime import date, timedelta

import pytest
from fastapi import FastAPI

from runplane.console.views.usage import COLOURS, HEIGHT, draw
from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.testing.console import browser_and_api

SMALL_AGENT = {
    "name": "tiny",
    "kind": "steps",
    "model": {"name": "offline"},
    "steps": [
        {"name": "first", "instructions": "Say hello to {{ input.who }}"},
        {"name": "second", "instructions": "Now shorter: {{ steps.first.output }}"},
    ],
}


async def test_the_usage_page_charts_tokens_per_day_and_agent(app: FastAPI, rt: Runtime) -> None:
    key = await auth.create_key(rt.db, f"us-{uuid.uuid4().hex[:10]}", None, "viewer")
    admin = await auth.create_key(rt.db, f"us-{uuid.uuid4().hex[:10]}", None, "admin")
    async with browser_and_api(app, key) as (browser, _):
        empty = await browser.get("/console/usage")
        assert empty.status_code == 200
        assert 'id="usage-empty"' in empty.text and 'aria-current="page">Usage' in empty.text
    async with browser_and_api(app, admin) as (browser, api):
        made = await api.post("/v1/agents", json=SMALL_AGENT)
        assert made.status_code == 201, made.text
        revision = made.json()["revision"]["id"]
        body = {"agent_id": "tiny", "revision_id": revision, "input": {"who": "you"}, "wait": 30}
        run = (await api.post("/v1/runs", json=body)).json()
        assert run["status"] == "succeeded", run

        page = await browser.get("/console/usage", params={"metric": "tokens", "days": 7})
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert '<svg id="usage-svg"' in text
        bars = re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"', text)
        assert len(bars) == 1 and float(bars[0]) > 0  # one day, one agent
        assert f"{date.today().isoformat()} · tiny:" in text
        assert re.search(r'<a href="/console/agents/tiny">tiny</a></th>\s*<td class="num">1</td>'
                         r'<td class="num">2</td>', text)  # fmt: skip
        assert '<span class="mono">offline</span>' in text  # per model
        assert "Last 7 days" in text and "https://" not in text.split("<main", 1)[1]

        credits = html.unescape((await browser.get("/console/usage")).text)
        assert "total 0 credits" in credits  # the offline model costs nothing


@pytest.mark.database_independent
def test_bars_stack_per_agent_and_the_smallest_agents_share_one_colour() -> None:
    days = [date(2026, 11, 1) + timedelta(days=n) for n in range(3)]
    per_day = {
        days[0]: {"a": 20.0, "b": 15.0},
        days[2]: {f"agent{i}": float(i + 1) for i in range(10)},
    }
    chart = draw(days, per_day, "credits")
    assert not chart.empty
    first = [b for b in chart.bars if b.title.startswith("2026-11-01")]
    assert [b.title.split(" · ")[1].split(":")[0] for b in first] == ["a", "b"]
    assert first[0].y + first[0].height == pytest.approx(HEIGHT - 36, abs=0.2)  # on the axis
    assert first[1].y + first[1].height == pytest.approx(first[0].y, abs=0.2)  # stacked on it
    names = [name for name, _ in chart.legend]
    assert len(names) == len(COLOURS) and names[-1] == "other agents"
    assert chart.ticks[-1][1] == "60"  # the day of 55 credits, on a round scale
    assert draw(days, {}, "tokens").empty
