"""Step agents in a real browser: write a three-step agent in the editor, run it offline,
read each step's model, tokens and credits; watch a model's text arrive in the timeline.

SQLite only, as the other browser tests: they test the pages, not the database.
"""

import os
import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.skipif(
    os.environ.get("RUNPLANE_TEST_DB", "sqlite") != "sqlite",
    reason="browser tests run on SQLite only: they test the pages, not the database",
)

expect.set_options(timeout=15_000)

RUN_URL = re.compile(r"/console/runs/run_[0-9a-z]+$")
SCHEMA = '{"type": "object", "properties": {"title": {"type": "string"}}}'


def steps(page: Page) -> Any:
    """The editor's step fieldsets, in page order."""
    return page.locator("#steps > fieldset[data-step]")


def step_names(page: Page) -> list[str]:
    return [
        steps(page).nth(i).get_by_label("Step name").input_value()
        for i in range(steps(page).count())
    ]


def fill_step(page: Page, n: int, name: str, instructions: str) -> Any:
    step = steps(page).nth(n)
    step.get_by_label("Step name").fill(name)
    step.get_by_label("Instructions").fill(instructions)
    return step


def test_write_a_three_step_agent_run_it_offline_and_read_each_steps_model_tokens_and_credits(
    page: Page, screenshot: Any
) -> None:
    name = f"site-report-{uuid.uuid4().hex[:6]}"
    page.goto("/console/agents")
    page.get_by_role("link", name="New agent").click()
    expect(page.get_by_role("heading", name="New agent")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Description").fill("Research the site's files, draft a report, sum it up")
    page.get_by_label("Default model").select_option("offline")
    page.get_by_label("Default reasoning effort").select_option("low")
    page.get_by_label("Input schema").fill(
        '{"type": "object", "required": ["question"], "properties": {"question": {"type": "string"}}}'
    )
    page.get_by_role("button", name="Add a variable").click()
    page.get_by_label("Variable name").fill("audience")
    page.get_by_label("Default", exact=True).fill("the finance team")

    fill_step(
        page,
        0,
        "research",
        "Question: {{ input.question }}\n{% for f in files %}{{ f.name }}\n{% endfor %}",
    )
    page.get_by_role("button", name="Add a step").click()
    page.get_by_role("button", name="Add a step").click()
    page.get_by_role("button", name="Add a step").click()
    expect(steps(page)).to_have_count(4)
    fill_step(page, 1, "summary", "Sum up as JSON: {{ steps.draft.output }}")
    fill_step(
        page, 2, "draft", "A report for {{ variables.audience }}: {{ steps.research.output }}"
    )
    fill_step(page, 3, "scratch", "To be removed")

    # the steps move and go in the page, what was typed going with them
    steps(page).nth(2).get_by_role("button", name="Move up").click()
    assert step_names(page) == ["research", "draft", "summary", "scratch"]
    expect(steps(page).nth(1).locator(".step-num")).to_have_text("2")
    steps(page).nth(3).get_by_role("button", name="Remove step").click()
    assert step_names(page) == ["research", "draft", "summary"]
    expect(steps(page).nth(0).get_by_role("button", name="Move up")).to_be_disabled()

    draft = steps(page).nth(1)
    draft.get_by_label("Reasoning effort").select_option("medium")
    summary = steps(page).nth(2)
    expect(summary.get_by_label("JSON schema of the output")).to_be_hidden()
    summary.get_by_label("Output format").select_option("json")
    summary.get_by_label("JSON schema of the output").fill(SCHEMA)
    assert page.evaluate("window.__sameDocument === true"), "the rows should move without a reload"
    screenshot(page, "console-step-editor.png")

    page.get_by_role("button", name="Save and publish").click()
    expect(page).to_have_url(re.compile(rf"/console/agents/{name}$"))
    expect(page.get_by_role("status")).to_contain_text("Saved and published")
    expect(page.locator("ol.agent-steps li")).to_have_text(
        [re.compile(r"^research · offline · reasoning low"), re.compile(r"^draft .*medium"),
         re.compile(r"^summary ")]
    )  # fmt: skip

    page.get_by_label("question").fill("What did sales do this quarter?")
    page.locator('input[name="var.audience"]').fill("the board")
    page.get_by_label("Reasoning effort for draft").select_option("high")
    page.get_by_role("button", name="Start the run").click()
    expect(page).to_have_url(RUN_URL)
    expect(page.locator("#run-badge")).to_have_text("Succeeded", timeout=30_000)

    facts = page.locator("[data-step-model]")
    expect(facts).to_have_count(3)
    for i in range(3):
        expect(facts.nth(i)).to_contain_text("Model: offline")
        expect(facts.nth(i)).to_contain_text(re.compile(r"Tokens: [\d,]+ in, [\d,]+ out"))
        expect(facts.nth(i)).to_contain_text("Credits: 0")
    expect(facts.nth(0)).to_contain_text("Reasoning: low")
    expect(facts.nth(1)).to_contain_text("Reasoning: high override (default medium)")
    expect(page.locator("#step-overrides")).to_contain_text("draft: reasoning high")
    expect(page.locator("#run-credits")).to_contain_text("actual 0")
    # what the model wrote, one timeline entry per step
    expect(page.locator("#timeline .ev-message-delta")).to_have_count(3)
    expect(page.locator("#timeline .ev-message-delta").nth(1)).to_contain_text("the board")
    screenshot(page, "console-step-run.png")


def test_a_models_text_arrives_in_the_timeline_while_the_run_goes_on(
    page: Page, tenant: Any
) -> None:
    made = tenant.api.post(
        "/v1/agents",
        json={
            "name": "echoer",
            "kind": "steps",
            "steps": [
                {"name": "one", "instructions": "First words"},
                {"name": "two", "instructions": "Then {{ steps.one.output }} again"},
            ],
        },
    )
    assert made.status_code == 201, made.text
    revision = made.json()["revision"]["id"]
    # One run at a time: a slow run holds the slot, so ours is queued when its page opens.
    assert tenant.api.patch("/v1/quotas", json={"max_running": 1}).status_code == 200
    slow = tenant.start("steps", {"steps": 3, "sleep": 0.6})
    tenant.until(slow["id"], "running")
    ours = tenant.start("echoer", {}, revision_id=revision)
    assert ours["status"] == "queued"

    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text) if m.text.startswith("delta:") else None)
    page.add_init_script(
        """new MutationObserver((changes) => { for (const c of changes) for (const n of c.addedNodes)
             // "new": drawn by the stream's script, not by the server
             if (n.classList && n.classList.contains('ev-message-delta') && n.classList.contains('new'))
               setTimeout(() => console.log('delta:' + n.querySelector('.ev-text').textContent), 0);
           }).observe(document, {subtree: true, childList: true});"""
    )
    page.goto(f"/console/runs/{ours['id']}")
    expect(page.locator("#run-badge")).to_have_text("Succeeded", timeout=30_000)
    tenant.until(slow["id"])
    # appended live by the stream, a piece at a time (the server drew none: it was queued)
    assert seen == ["delta:First words", "delta:Then First words again"], seen
    expect(page.locator("#timeline .ev-message-delta")).to_have_count(2)
