"""In Chromium: the quality page draws its uPlot charts from an agent's scored runs.

Today's figures come from real suite runs of two revisions of a step agent (offline
model); the three days before are scored results written to the live server's database,
so that the charts have a history to draw (a test cannot wait days).
"""

import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from runplane.store.schema import benchmark_results, tenants
from runplane.testing.server import create_key

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "quality"))
from quality_rows import result  # noqa: E402

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("RUNPLANE_TEST_DB", "sqlite") != "sqlite",
        reason="browser tests run on SQLite only: they test the pages, not the database",
    ),
    pytest.mark.timeout(120),
]

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCREENSHOTS = os.environ.get("RUNPLANE_SCREENSHOTS") == "1"

# Painted pixels of a canvas: a drawn chart has lines, an empty one none.
PAINTED = """(canvas) => {
  const ctx = canvas.getContext('2d');
  const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
  return n;
}"""

GREETER = {
    "name": "greeter",
    "kind": "steps",
    "description": "Greets a person by name.",
    "model": {"name": "offline"},
    "steps": [{"name": "greet", "instructions": "Say hello to {{ input.who }}, by name."}],
}
# The second revision forgets the name: the "names the person" scorer catches it.
FORGETFUL = {
    **GREETER,
    "steps": [{"name": "greet", "instructions": "Say hello, warmly and briefly."}],
}
SCORERS = [
    {"type": "contains", "name": "names the person"},
    {"type": "regex", "name": "greets", "pattern": "(?i)hello"},
    {"type": "latency", "max_ms": 30000},
]
PEOPLE = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald"]


def suite(api: httpx.Client, bench: str, revision: str) -> dict[str, Any]:
    """Run the benchmark against a revision and wait for its summary."""
    r = api.post(f"/v1/benchmarks/{bench}/runs", json={"revision_id": revision, "concurrency": 3})
    assert r.status_code == 201, r.text
    deadline = time.monotonic() + 60
    while True:
        got = api.get(f"/v1/benchmarks/{bench}/runs/{r.json()['id']}", params={"wait": 10}).json()
        if got["status"] != "running":
            return dict(got)
        assert time.monotonic() < deadline, got


def history(database_url: str, tenant_name: str, agent_id: str, bench: str, revision: str) -> None:
    """Three earlier days of scored results of the first revision."""
    engine = sa.create_engine(database_url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        tenant = conn.execute(
            sa.select(tenants.c.id).where(tenants.c.name == tenant_name)
        ).scalar_one()
        rows = []
        for day in range(3):
            at = now - timedelta(days=3 - day, hours=1)
            for i in range(len(PEOPLE)):
                named = i < 3 + day
                scorers = {"names the person": named, "greets": True, "latency": True}
                rows.append(
                    result(tenant, agent_id, revision, at, passed=named, latency_ms=3 + 0.8 * i + day, credits=0.0, benchmark_id=bench, scorers=scorers)
                )  # fmt: skip
        conn.execute(benchmark_results.insert(), rows)
    engine.dispose()


def test_the_quality_page_draws_two_revisions_suites(sign_in: Any, live_server: Any) -> None:
    name = f"console-q-{uuid.uuid4().hex[:10]}"
    key = create_key(live_server.database_url, tenant=name)
    with httpx.Client(base_url=live_server.url, headers={"x-api-key": key}, timeout=60) as api:
        made = api.post("/v1/agents", json=GREETER)
        assert made.status_code == 201, made.text
        agent, first = made.json()["agent"]["id"], made.json()["revision"]["id"]
        assert api.post(f"/v1/agents/greeter/revisions/{first}/publish").status_code == 200
        second = api.post("/v1/agents/greeter/revisions", json=FORGETFUL).json()["id"]
        body = {"agent_id": "greeter", "name": "greetings", "scorers": SCORERS}
        bench = api.post("/v1/benchmarks", json=body).json()["id"]
        for who in PEOPLE:
            case = {"name": who, "input": {"who": who}, "expected": who}
            assert api.post(f"/v1/benchmarks/{bench}/cases", json=case).status_code == 201
        history(live_server.database_url, name, agent, bench, first)
        good, bad = suite(api, bench, first), suite(api, bench, second)
    assert good["passed"] is not None and good["summary"]["scorers"]["greets"]["pass_rate"] == 1
    assert good["summary"]["scorers"]["names the person"]["pass_rate"] == 1.0, good["summary"]
    assert bad["summary"]["scorers"]["names the person"]["pass_rate"] < 1.0, bad["summary"]

    page: Page = sign_in(key)
    page.goto("/console/agents/greeter")
    page.get_by_role("link", name="Quality").click()
    expect(page.get_by_role("heading", name="Quality of greeter")).to_be_visible()
    charts = page.locator(".chart[data-drawn='1']")
    expect(charts).to_have_count(4)
    expect(charts.first).to_have_attribute("data-points", "4")  # three days and today
    canvases = page.locator(".chart canvas")
    expect(canvases).to_have_count(4)
    for i in range(4):
        assert canvases.nth(i).evaluate(PAINTED) > 100, f"chart {i} is blank"
    legend = page.locator(".chart[data-series='pass_rate'] .u-legend")
    expect(legend).to_contain_text("names the person")
    revisions = page.locator("#quality-revisions")
    expect(revisions).to_contain_text(first)
    expect(revisions).to_contain_text(second)
    expect(revisions.locator("tr", has_text=second)).to_contain_text("draft")
    if SCREENSHOTS:  # the whole page: charts, the revisions side by side, the benchmarks
        page.screenshot(path=str(DOCS / "console-quality.png"), full_page=True)

    page.get_by_role("link", name="greetings").click()
    expect(page.locator("tr[data-suite]")).to_have_count(2)
    page.locator("tr[data-suite] a").first.click()
    failed = page.locator("tr[data-passed='false']")
    expect(failed.first).to_be_visible()
    page.locator("tr.case-detail summary").first.click()
    expect(page.get_by_role("table", name="Side-by-side diff").first).to_be_visible()
