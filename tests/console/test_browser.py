"""The console in a real browser: each test is a user story, against a live server.

Run on SQLite only: they test the pages, not the database (the HTTP-level console
tests and the rest of the suite cover both databases).
"""

import os
import re
import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.skipif(
    os.environ.get("RUNPLANE_TEST_DB", "sqlite") != "sqlite",
    reason="browser tests run on SQLite only: they test the pages, not the database",
)

expect.set_options(timeout=15_000)

RUN_URL = re.compile(r"/console/runs/run_[0-9a-z]+$")
NOTES = {"calls": [{"tool": "read_notes", "arguments": {"day": "Monday"}}]}


# -- what the pages are made of (one place to change if the markup moves) ---------------


def status_badge(page: Page) -> Any:
    """The run page's status badge, in its header."""
    return page.locator("#run-badge")


def timeline_items(page: Page) -> Any:
    """The entries of the run page's timeline."""
    return page.get_by_role("region", name="Timeline", exact=True).get_by_role("listitem")


def list_row(page: Page, run_id: str) -> Any:
    """A row of the runs list."""
    return page.locator(f'tr[data-run="{run_id}"]')


def shown_names(page: Page) -> list[str]:
    """The run names shown in the runs list, top to bottom."""
    return page.locator("tbody tr").get_by_role("link").all_inner_texts()


def mark_page(page: Page) -> None:
    """Mark the document, so a later check can tell it was not reloaded."""
    page.evaluate("window.__sameDocument = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"


def tag() -> str:
    return uuid.uuid4().hex[:6]


# -- stories ----------------------------------------------------------------------------


def test_sign_in_with_an_api_key_and_out(context: Any, tenant: Any) -> None:
    page = context.new_page()
    page.goto("/console/runs")
    expect(page).to_have_url(re.compile(r"/console/login\?next=/console/runs"))
    expect(page.get_by_role("heading", name="Sign in to runplane")).to_be_visible()

    page.get_by_label("API key").fill("rp_not_a_real_key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That key is not valid")
    expect(page).to_have_url(re.compile(r"/console/login"))

    page.get_by_label("API key").fill(tenant.key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/console/runs$"))
    expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/console/login$"))
    expect(page.get_by_label("API key")).to_be_visible()
    page.goto("/console/runs")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))


def test_start_a_run_from_the_agents_page_and_watch_its_timeline_fill(page: Page) -> None:
    page.goto("/console/agents/steps")
    page.get_by_label(re.compile(r"^Steps\b")).fill("4")
    page.get_by_label(re.compile(r"^Sleep\b")).fill("0.4")
    page.get_by_role("button", name="Start the run").click()
    expect(page).to_have_url(RUN_URL)
    mark_page(page)

    # Count the entries while the page is the same document: once the run has ended the
    # page reloads itself (to draw the result server-side), which is not what we test.
    counts: list[int] = []
    badges: set[str] = set()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            n, badge = timeline_items(page).count(), status_badge(page).inner_text().strip()
            if not page.evaluate("window.__sameDocument === true"):
                break
        except PlaywrightError:  # the page is navigating (its reload after the end)
            break
        counts.append(n)
        badges.add(badge)
        if badge == "Succeeded":
            break
        page.wait_for_timeout(100)

    # the entries arrived while the run was going, a few at a time, not all at once
    assert "Running" in badges, badges
    assert counts == sorted(counts), counts
    assert len(set(counts)) >= 3 and counts[-1] > counts[0], counts
    expect(status_badge(page)).to_have_text("Succeeded")
    expect(timeline_items(page).filter(has_text="step-4").first).to_be_visible()


def test_cancel_a_running_run(page: Page, tenant: Any) -> None:
    run = tenant.start("steps", {"steps": 20, "sleep": 0.5})
    tenant.until(run["id"], "running")
    page.goto(f"/console/runs/{run['id']}")
    expect(status_badge(page)).to_have_text("Running")
    page.get_by_role("button", name="Cancel").click()
    expect(status_badge(page)).to_have_text("Canceled")
    assert tenant.run(run["id"])["status"] == "canceled"


def test_approve_a_paused_run_from_the_inbox(page: Page, tenant: Any, screenshot: Any) -> None:
    run = tenant.start("call_tools", NOTES, approval="ON_TOOL_CALL", name="Monday notes")
    tenant.until(run["id"], "paused")
    assert len(tenant.pending_approvals(run["id"])) == 1

    page.goto("/console/approvals")
    expect(page.get_by_text("read_notes").first).to_be_visible()
    screenshot(page, "console-approvals.png")
    card = page.get_by_role("listitem").filter(has=page.get_by_role("link", name="Monday notes"))
    card.get_by_role("button", name="Approve").click()

    assert tenant.until(run["id"])["status"] == "succeeded"
    page.goto(f"/console/runs/{run['id']}")
    expect(status_badge(page)).to_have_text("Succeeded")


def test_rerun_from_a_step(page: Page, tenant: Any) -> None:
    run = tenant.start("steps", {"steps": 3}, wait=30)
    assert run["status"] == "succeeded", run
    page.goto(f"/console/runs/{run['id']}")
    steps = page.get_by_role("region", name=re.compile(r"^Steps"))
    step_2 = steps.get_by_role("listitem").filter(has_text="step-2")
    expect(step_2.get_by_text("Rerun from here")).to_be_visible()
    step_2.get_by_role("button", name=re.compile(r"^Rerun from")).click()

    expect(page).to_have_url(RUN_URL)
    new_id = page.url.rsplit("/", 1)[1]
    assert new_id != run["id"]
    expect(status_badge(page)).to_have_text("Succeeded")
    rerun = tenant.run(new_id)
    assert rerun["rerun_of"] == run["id"] and rerun["from_step"] == 2, rerun


def test_filter_and_search_the_runs_list(page: Page, tenant: Any) -> None:
    for agent, name in [
        ("echo", "alpha report"),
        ("echo", "beta summary"),
        ("fail", "alpha broken"),
        ("steps", "gamma count"),
    ]:
        tenant.start(agent, {}, name=name, wait=30)

    page.goto("/console/runs")
    assert sorted(shown_names(page)) == [
        "alpha broken",
        "alpha report",
        "beta summary",
        "gamma count",
    ]

    page.get_by_label("Search by name").fill("alpha")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("tbody tr")).to_have_count(2)
    assert sorted(shown_names(page)) == ["alpha broken", "alpha report"]

    page.get_by_label(re.compile(r"^Agent")).select_option("echo")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    assert shown_names(page) == ["alpha report"]

    page.get_by_label("Search by name").fill("")
    page.get_by_label(re.compile(r"^Agent")).select_option("")
    page.get_by_label(re.compile(r"^Status")).select_option("failed")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    assert shown_names(page) == ["alpha broken"]
    expect(page.locator("tbody tr").first).to_contain_text("Failed")

    page.get_by_label(re.compile(r"^Status")).select_option("")
    page.get_by_label("Search by name").fill("no such run")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("heading", name="No runs match")).to_be_visible()


def test_agent_output_is_shown_as_text_never_run(page: Page, tenant: Any) -> None:
    script = "<script>window.__pwned = 1</script>"
    image = '<img src=x onerror="window.__pwned=2">'
    run = tenant.start(
        "echo",
        {"note": f"{script} and {image}"},
        name=f'<img src=x onerror="window.__pwned=3"> {tag()}',
        wait=30,
    )
    assert run["status"] == "succeeded", run

    page.goto(f"/console/runs/{run['id']}")
    expect(status_badge(page)).to_have_text("Succeeded")
    page.wait_for_timeout(300)  # give any injected handler time to fire
    assert page.evaluate("typeof window.__pwned") == "undefined"
    expect(page.get_by_text(script).first).to_be_visible()
    expect(page.get_by_text("<img src=x onerror=").first).to_be_visible()
    assert page.locator("main img[src=x]").count() == 0


def test_another_tenants_run_is_not_found(page: Page, new_tenant: Any) -> None:
    other = new_tenant()
    run = other.start("echo", {}, name="not yours")
    response = page.goto(f"/console/runs/{run['id']}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_text("not yours")).to_have_count(0)
    other.api.close()


def test_the_list_updates_statuses_live(page: Page, tenant: Any, screenshot: Any) -> None:
    tenant.start("echo", {"hello": "world"}, name="a finished run", wait=30)
    tenant.start("fail", {}, name="a failed run", wait=30)
    run = tenant.start("steps", {"steps": 3, "sleep": 0.5}, name="three slow steps")
    page.goto("/console/runs")
    mark_page(page)
    row = list_row(page, run["id"])
    expect(row).to_be_visible()
    assert row.locator("[data-status]").inner_text() != "Succeeded"
    screenshot(page, "console-runs.png")
    expect(row.locator("[data-status]")).to_have_text("Succeeded")
    expect(row).to_contain_text("3/3")
    assert_not_reloaded(page)


def test_upload_a_file_into_a_site_and_download_it(page: Page, tenant: Any) -> None:
    r = tenant.api.post("/v1/sites", json={"name": "drop"})
    assert r.status_code == 201, r.text
    data = b"region,amount\nnorth,12\n"
    page.goto("/console")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Files").click()
    expect(page).to_have_url(re.compile(r"/console/files$"))
    page.get_by_label("File", exact=True).set_input_files(
        files=[{"name": "q3.csv", "mimeType": "text/csv", "buffer": data}]
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("status")).to_contain_text("Uploaded q3.csv (text/csv")
    (f,) = tenant.api.get("/v1/files").json()["items"]
    row = page.locator(f'tr[data-file="{f["id"]}"]')
    expect(row).to_contain_text(f["sha256"][:12])
    with page.expect_download() as download:
        row.get_by_role("link", name="q3.csv").click()
    path = download.value.path()
    assert path is not None and open(path, "rb").read() == data


@pytest.mark.skipif(
    os.environ.get("RUNPLANE_SCREENSHOTS") != "1", reason="set RUNPLANE_SCREENSHOTS=1"
)
def test_screenshot_a_live_run_page(page: Page, tenant: Any, screenshot: Any) -> None:
    run = tenant.start(
        "research", {"question": "How do durable workflows recover after a crash?"}, name="research"
    )
    tenant.until(run["id"], "succeeded")
    live = tenant.start("steps", {"steps": 8, "sleep": 0.6}, name="eight slow steps")
    page.goto(f"/console/runs/{live['id']}")
    expect(page.get_by_text("step-3").first).to_be_visible()
    screenshot(page, "console-run.png")
