"""The activity page in a real browser: open it from the main navigation, filter it, and
download what the filter shows (SQLite only, like the other browser stories)."""

import csv
import io
import os
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.skipif(
    os.environ.get("RUNPLANE_TEST_DB", "sqlite") != "sqlite",
    reason="browser tests run on SQLite only: they test the pages, not the database",
)


def test_filter_the_activity_and_download_it(page: Page, tenant: Any, screenshot: Any) -> None:
    for name in ("north", "south"):
        assert tenant.api.post("/v1/sites", json={"name": name}).status_code == 201
    run = tenant.start("echo", {"hello": "audit"}, wait=10)
    page.goto("/console")
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Audit & Governance"
    ).click()
    expect(page).to_have_url(re.compile(r"/console/governance/activity$"))
    tabs = page.get_by_role("navigation", name="Audit & Governance")
    expect(tabs.get_by_role("link", name="Activity")).to_have_attribute("aria-current", "page")
    rows = page.locator("tr[data-activity]")
    expect(rows).to_have_count(3)
    expect(page.locator("tbody")).to_contain_text("run.created")
    page.locator("tbody").get_by_role("link", name=run["id"]).click()
    expect(page).to_have_url(re.compile(rf"/console/runs/{run['id']}$"))
    page.go_back()

    page.get_by_label("Action").fill("site.")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"[?&]action=site\.(&|$)"))
    expect(rows).to_have_count(2)
    expect(page.locator("tbody")).not_to_contain_text("run.created")
    screenshot(page, "console-activity.png")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    path = download.value.path()
    assert path is not None
    table = list(csv.DictReader(io.StringIO(open(path, encoding="utf-8").read(), newline="")))
    assert [r["action"] for r in table] == ["site.created", "site.created"]
    assert [r["actor_type"] for r in table] == ["api", "api"]
    assert download.value.suggested_filename.endswith(".csv")
