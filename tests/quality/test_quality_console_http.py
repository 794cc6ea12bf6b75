"""The console's quality page over HTTP: figures, chart data for uPlot, revisions and A/B."""

import html
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from quality_rows import add, add_benchmark, result, set_split, tenant_id

from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.testing.console import browser_and_api


async def test_the_quality_page_charts_scored_runs_and_compares_revisions(
    app: FastAPI, rt: Runtime
) -> None:
    name = f"qc-{uuid.uuid4().hex[:10]}"
    key = await auth.create_key(rt.db, name, None, "viewer")
    async with browser_and_api(app, key) as (browser, api):
        empty = await browser.get("/console/agents/echo/quality")
        assert empty.status_code == 200, empty.text
        assert 'id="quality-empty"' in empty.text and "quality-data" not in empty.text

        agent = (await api.get("/v1/agents/echo")).json()["id"]
        tenant = await tenant_id(rt, name)
        bench = await add_benchmark(rt, tenant, agent, "smoke <b>")
        now = datetime.now(UTC)
        await add(
            rt,
            [
                result(tenant, agent, "rev_old", now - timedelta(days=3), passed=False, latency_ms=400, benchmark_id=bench),
                result(tenant, agent, "rev_old", now - timedelta(days=3), passed=True, latency_ms=200, benchmark_id=bench),
                result(tenant, agent, "rev_new", now - timedelta(hours=2), passed=True, latency_ms=100, benchmark_id=bench),
            ],
        )  # fmt: skip
        await set_split(
            rt,
            tenant,
            agent,
            {"revision_a": "rev_old", "revision_b": "rev_new", "percent_b": 50},
        )

        page = await browser.get("/console/agents/echo/quality")
        assert page.status_code == 200
        text = page.text
        # The chart library is served with the console, not fetched from elsewhere.
        assert '<script src="/console/static/vendor/uplot/uPlot.iife.min.js" defer>' in text
        block = re.search(r'<script type="application/json" id="quality-data">(.*?)</script>', text)
        assert block is not None
        data = json.loads(block.group(1))
        assert len(data["x"]) == 2  # two days with scored runs
        assert data["pass_rate"]["all scorers"] == [0.5, 1.0]
        assert data["latency"]["p50"] == [200.0, 100.0]
        assert text.count('class="chart" data-series=') == 4

        plain = html.unescape(text)
        assert re.search(r"Scored runs</dt><dd>3</dd>", plain)
        assert re.search(r"Pass rate</dt><dd>67%</dd>", plain)
        revisions = plain.split('id="quality-revisions"', 1)[1].split("</table>", 1)[0]
        assert revisions.index("rev_old") < revisions.index("rev_new")
        assert 'id="quality-ab"' in text and "50% of new runs to B" in plain
        # The benchmark's name is text, never markup.
        assert f'<a href="/console/benchmarks/{bench}">smoke &lt;b&gt;</a>' in text

        suites = await browser.get("/console/agents/echo/quality", params={"kind": "completion"})
        assert 'id="quality-empty"' in suites.text

        agent_page = await browser.get("/console/agents/echo")
        assert 'href="/console/agents/echo/quality"' in agent_page.text
        assert (
            await browser.get("/console/static/vendor/uplot/uPlot.iife.min.js")
        ).status_code == 200


async def test_an_unknown_agents_quality_page_is_a_404_page(app: FastAPI, rt: Runtime) -> None:
    key = await auth.create_key(rt.db, f"qc-{uuid.uuid4().hex[:10]}", None, "viewer")
    async with browser_and_api(app, key) as (browser, _):
        page = await browser.get("/console/agents/nobody/quality")
    assert page.status_code == 404 and "Not found" in page.text
