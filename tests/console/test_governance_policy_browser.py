"""The Policy and Legal holds tabs in a real browser: a contradictory policy is refused with
its field named and the text kept; a good one becomes version 2 and is listed; a run is put
on hold, shown held on its page, and released.

SQLite only, as the other browser tests: they test the pages, not the database.
"""

import json
import os
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.skipif(
    os.environ.get("RUNPLANE_TEST_DB", "sqlite") != "sqlite",
    reason="browser tests run on SQLite only: they test the pages, not the database",
)

expect.set_options(timeout=15_000)

CONTRADICTION = {
    "retention": {"runs": {"days": 10}},
    "holds": [{"name": "audit", "reason": "annual audit", "keep_days": 30}],
}


def test_edit_the_policy_and_hold_a_run(page: Page, tenant: Any) -> None:
    run = tenant.start("echo", wait=10)
    # The area opens on the activity tab (another part of issue 16); Policy is one tab.
    page.goto("/console/governance/policy")
    expect(page.get_by_role("link", name="Policy")).to_have_attribute("aria-current", "page")
    expect(page.locator("#policy-current")).to_contain_text("Version 1 is in force")
    editor = page.get_by_label("Policy document (JSON)")
    editor.fill(json.dumps(CONTRADICTION, indent=2))
    page.get_by_role("button", name="Save as version 2").click()
    expect(page.get_by_role("alert")).to_contain_text("retention.runs.days")
    expect(editor).to_have_value(json.dumps(CONTRADICTION, indent=2))
    editor.fill(json.dumps({"retention": {"runs": {"days": 365}}}))
    page.get_by_label("Why it changes").fill("keep a year")
    page.get_by_role("button", name="Save as version 2").click()
    expect(page.get_by_role("status")).to_contain_text("Policy version 2 is in force")
    expect(page.locator('#policy-versions tr[data-version="2"]')).to_contain_text("keep a year")

    page.get_by_role("link", name="Legal holds").click()
    page.get_by_label("Hold").select_option("run")
    page.get_by_label("Run id or agent").fill(run["id"])
    page.get_by_label("Reason").fill("matter 2026-9")
    page.get_by_role("button", name="Add hold").click()
    expect(page.get_by_role("status")).to_contain_text("keeps 1 run(s)")
    row = page.locator("#holds tbody tr")
    expect(row).to_contain_text("matter 2026-9")

    page.goto(f"/console/runs/{run['id']}")
    expect(page.locator("#run-holds")).to_contain_text("matter 2026-9")
    expect(page.locator("#run-policy-version")).to_have_text("1")

    page.goto("/console/governance/holds")
    page.get_by_role("button", name="Release").click()
    expect(page.get_by_role("status")).to_contain_text("released")
    expect(page.locator("#holds")).to_have_count(0)
