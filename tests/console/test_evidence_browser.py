"""In Chromium: export runs' evidence from Audit & Governance, watch it finish, download it."""

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from runplane.domain.evidence import verify_bundle

pytestmark = pytest.mark.skipif(
    os.environ.get("RUNPLANE_TEST_DB", "sqlite") != "sqlite",
    reason="browser tests run on SQLite only: they test the pages, not the database",
)


def test_export_an_agents_runs_then_download_a_bundle_that_verifies(
    page: Page, tenant: Any, tmp_path: Path
) -> None:
    runs = [tenant.start("artifacts", {"parts": 2}) for _ in range(4)]
    for run in runs:
        tenant.until(run["id"], "succeeded")
    page.goto("/console/governance/exports")
    expect(page.get_by_role("link", name="Exports")).to_have_attribute("aria-current", "page")
    today = datetime.now(UTC).date().isoformat()
    form = page.get_by_role("form", name="Start an export")
    form.get_by_label("or agent").fill("artifacts")
    form.get_by_label("from").fill(today)
    form.get_by_label("to").fill(today)
    form.get_by_role("button", name="Export").click()
    expect(page.get_by_role("status")).to_contain_text("runs.")
    row = page.locator("tr[data-export]").first
    expect(row).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(row.locator("progress")).to_have_attribute("value", "4")
    with page.expect_download() as download:
        row.get_by_role("link", name="Download").click()
    saved = tmp_path / "bundle.zip"
    download.value.save_as(saved)
    keys = [k["public_key"] for k in tenant.api.get("/v1/governance/keys").json()["items"]]
    verdict = verify_bundle(saved, keys)
    assert verdict.ok and verdict.runs == 4, verdict.problems
    expect(page.locator("section[data-key]")).to_have_count(1)
    expect(page.locator("section[data-key] pre")).to_contain_text("BEGIN PUBLIC KEY")

    page.goto(f"/console/runs/{runs[0]['id']}")
    with page.expect_download() as own:
        page.get_by_role("link", name="Download evidence").click()
    assert verify_bundle(own.value.path(), keys).runs == 1
