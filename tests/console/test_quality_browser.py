"""In Chromium: the quality page draws its uPlot charts from the agent's scored runs."""

import os
import sys
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

pytestmark = pytest.mark.skipif(
    os.environ.get("RUNPLANE_TEST_DB", "sqlite") != "sqlite",
    reason="browser tests run on SQLite only: they test the pages, not the database",
)

# Painted pixels of a canvas: a drawn chart has lines, an empty one none.
PAINTED = """(canvas) => {
  const ctx = canvas.getContext('2d');
  const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
  return n;
}"""


def seed(database_url: str, tenant_name: str, agent_id: str) -> None:
    """Three days of scored runs of two revisions, written to the live server's database."""
    engine = sa.create_engine(database_url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        tenant = conn.execute(
            sa.select(tenants.c.id).where(tenants.c.name == tenant_name)
        ).scalar_one()
        rows = []
        for day in range(3):
            at = now - timedelta(days=2 - day, hours=1)
            rev = "rev_one" if day < 2 else "rev_two"
            for i in range(4):
                ok = i < 2 + day // 2
                scorers = {"exact": ok, "latency": i != 3}
                rows.append(
                    result(tenant, agent_id, rev, at, passed=ok, latency_ms=100 + 50 * i + 30 * day, credits=0.5 + i / 10, scorers=scorers)
                )  # fmt: skip
        conn.execute(benchmark_results.insert(), rows)
    engine.dispose()


def test_the_quality_page_draws_charts_with_data(
    sign_in: Any, live_server: Any, screenshot: Any
) -> None:
    name = f"console-q-{uuid.uuid4().hex[:10]}"
    key = create_key(live_server.database_url, tenant=name)
    with httpx.Client(base_url=live_server.url, headers={"x-api-key": key}, timeout=30) as api:
        agent = api.get("/v1/agents/echo").json()["id"]
    seed(live_server.database_url, name, agent)
    page: Page = sign_in(key)
    page.goto("/console/agents/echo")
    page.get_by_role("link", name="Quality").click()
    expect(page.get_by_role("heading", name="Quality of echo")).to_be_visible()
    charts = page.locator(".chart[data-drawn='1']")
    expect(charts).to_have_count(4)
    expect(charts.first).to_have_attribute("data-points", "3")
    canvases = page.locator(".chart canvas")
    expect(canvases).to_have_count(4)
    for i in range(4):
        assert canvases.nth(i).evaluate(PAINTED) > 100, f"chart {i} is blank"
    legend = page.locator(".chart[data-series='pass_rate'] .u-legend")
    expect(legend).to_contain_text("exact")
    expect(legend).to_contain_text("latency")
    expect(page.locator("#quality-revisions")).to_contain_text("rev_two")
    screenshot(page, "console-quality.png")
