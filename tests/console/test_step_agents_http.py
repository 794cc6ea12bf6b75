"""The step-agent editor, the steps agent's run form and the run page's model facts, over
HTTP: what the pages show, how the form's rows move, where errors go."""

import asyncio
import html
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI

from runplane.console.views import run_models, step_form
from runplane.console.views.run import fold_deltas, live_text
from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.testing.console import browser_and_api, csrf_of


@asynccontextmanager
async def console(
    app: FastAPI, rt: Runtime, role: str = "admin"
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    key = await auth.create_key(rt.db, f"se-{uuid.uuid4().hex[:10]}", None, role)
    async with browser_and_api(app, key) as pair:
        yield pair


def text_of(page: httpx.Response) -> str:
    return html.unescape(page.text)


def keys_of(page: str, name: str) -> list[str]:
    """The row keys of the editor (``steps`` or ``vars``), in page order, outside templates."""
    body = page.split("<template", 1)[0]
    return re.findall(rf'name="{name}" value="([a-z0-9]+)"', body)


def editor_form(csrf: str, steps: list[dict[str, Any]], **agent: Any) -> list[tuple[str, str]]:
    """The editor's fields as a browser posts them (keys in order, one row per step)."""
    data: list[tuple[str, str]] = [("csrf", csrf)]
    data += [(k, str(v)) for k, v in agent.items()]
    for i, s in enumerate(steps):
        key = s.get("key", f"k{i}")
        data.append(("steps", key))
        for field in ("name", "instructions", "model", "reasoning_effort", "format", "schema"):
            if field in s:
                data.append((f"step.{key}.{field}", str(s[field])))
        for tool in s.get("tools", []):
            data.append((f"step.{key}.tools", tool))
    return data


async def post_form(
    browser: httpx.AsyncClient, url: str, pairs: list[tuple[str, str]]
) -> httpx.Response:
    """Post fields in this order, repeated names kept (as a browser does)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return await browser.post(url, content=urlencode(pairs), headers=headers)


# -- the editor ---------------------------------------------------------------------------


async def test_the_new_agent_editor_shows_one_step_with_models_efforts_and_tools(
    app: FastAPI, rt: Runtime
) -> None:
    async with console(app, rt) as (browser, _):
        page = await browser.get("/console/agents/new")
        assert page.status_code == 200, page.text
        body = text_of(page)
        assert "<h1>New agent</h1>" in body
        assert len(keys_of(page.text, "steps")) == 1
        assert '<option value="offline"' in body and '<option value="gpt-4o-mini"' in body
        assert '<option value="high"' in body
        assert 'value="read_notes"' in body  # a loaded tool, as a checkbox
        assert 'id="step-template"' in body and "editor.js" in body
        listing = text_of(await browser.get("/console/agents"))
        assert 'href="/console/agents/new"' in listing


async def test_row_buttons_add_move_and_remove_steps_keeping_what_was_typed(
    app: FastAPI, rt: Runtime
) -> None:
    async with console(app, rt) as (browser, _):
        csrf = csrf_of((await browser.get("/console/agents/new")).text)
        steps = [
            {"key": "aa", "name": "research", "instructions": "Read {{ input.topic }}"},
            {"key": "bb", "name": "draft", "instructions": "Write it"},
        ]
        data = editor_form(csrf, steps, name="writer", action="add_step")
        page = await post_form(browser, "/console/agents/new", data)
        assert page.status_code == 200
        keys = keys_of(page.text, "steps")
        assert keys[:2] == ["aa", "bb"] and len(keys) == 3
        assert 'value="research"' in page.text and "Read {{ input.topic }}" in text_of(page)

        data = editor_form(csrf, steps, name="writer", action="up:bb")
        page = await post_form(browser, "/console/agents/new", data)
        assert keys_of(page.text, "steps") == ["bb", "aa"]

        data = editor_form(csrf, steps, name="writer", action="remove_step:aa")
        page = await post_form(browser, "/console/agents/new", data)
        assert keys_of(page.text, "steps") == ["bb"]
        assert 'value="writer"' in page.text

        data = editor_form(csrf, steps, name="writer", action="add_var")
        page = await post_form(browser, "/console/agents/new", data)
        assert len(keys_of(page.text, "vars")) == 1


async def test_what_the_form_cannot_read_is_shown_next_to_its_field(
    app: FastAPI, rt: Runtime
) -> None:
    async with console(app, rt) as (browser, _):
        csrf = csrf_of((await browser.get("/console/agents/new")).text)
        steps = [
            {"key": "aa", "name": "", "instructions": "x"},
            {"key": "bb", "name": "summary", "format": "json", "schema": "{not json"},
        ]
        data = editor_form(csrf, steps, name="", action="save")
        data += [("vars", "vv"), ("var.vv.name", "pages"), ("var.vv.type", "integer")]
        data += [("var.vv.default", "2.5")]
        page = await post_form(browser, "/console/agents/new", data)
        assert page.status_code == 422
        body = text_of(page)
        assert re.search(r'id="a-name-error">Give the agent a name', body)
        assert re.search(r'id="s-aa-name-error">Give the step a name', body)
        assert re.search(r'id="s-bb-schema-error">This is not valid JSON', body)
        assert re.search(r'id="v-vv-default-error">This must be a whole number', body)
        assert 'aria-invalid="true"' in body


async def test_the_forms_need_the_csrf_token_and_a_key_that_may_publish(
    app: FastAPI, rt: Runtime
) -> None:
    async with console(app, rt) as (browser, _):
        r = await browser.post("/console/agents/new", data={"name": "x", "action": "save"})
        assert r.status_code == 403
    async with console(app, rt, role="member") as (browser, _):
        assert (await browser.get("/console/agents/new")).status_code == 403
        assert 'href="/console/agents/new"' not in (await browser.get("/console/agents")).text


async def test_a_code_agent_is_not_edited_in_the_console(app: FastAPI, rt: Runtime) -> None:
    async with console(app, rt) as (browser, _):
        r = await browser.get("/console/agents/echo/edit")
        assert r.status_code == 409
        assert "changed in the project" in text_of(r)
        assert (
            'href="/console/agents/echo/edit"'
            not in (await browser.get("/console/agents/echo")).text
        )


# -- the form, as functions ----------------------------------------------------------------


class Posted:
    """A posted form as Starlette gives it (``get``, ``getlist``)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def get(self, name: str) -> str | None:
        return next((v for k, v in self.pairs if k == name), None)

    def getlist(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k == name]


DEFINITION = {
    "name": "site-report",
    "kind": "steps",
    "description": "Research, draft, summarise",
    "variables": {
        "tone": {"type": "string", "default": "plain", "description": "How it reads"},
        "pages": {"type": "integer", "default": 2},
        "strict": {"type": "boolean", "default": False},
        "tags": {"type": "array", "default": ["a"]},
    },
    "model": {"name": "offline", "reasoning_effort": "low"},
    "integrations": [],
    "steps": [
        {
            "name": "research",
            "instructions": "Read {{ files }}",
            "model": None,
            "reasoning_effort": None,
            "tools": ["read_notes"],
            "output": {"format": "markdown"},
        },
        {
            "name": "summary",
            "instructions": "Sum up {{ steps.research.output }}",
            "model": "gpt-4o-mini",
            "reasoning_effort": "high",
            "tools": [],
            "output": {
                "format": "json",
                "schema": {"type": "object", "properties": {"title": {"type": "string"}}},
                "retry_invalid": True,
            },
        },
        {
            "name": "save",
            "instructions": "Write the file",
            "model": None,
            "reasoning_effort": None,
            "tools": [],
            "output": {"format": "file", "file_name": "report.md"},
        },
    ],
    "input_schema": {"type": "object"},
    "approval_rules": [{"tool": "read_notes"}],
    "timeout_seconds": 600.0,
}


def form_pairs(form: step_form.AgentForm) -> list[tuple[str, str]]:
    pairs = [
        ("name", form.name),
        ("description", form.description),
        ("model", form.model),
        ("reasoning_effort", form.reasoning_effort),
        ("input_schema", form.input_schema),
        ("integrations", form.integrations),
        ("timeout_seconds", form.timeout),
        ("approval_rules", form.approval_rules),
    ]
    for v in form.variables:
        pairs += [("vars", v.key), (f"var.{v.key}.name", v.name), (f"var.{v.key}.type", v.type)]
        pairs += [(f"var.{v.key}.default", v.default)]
        pairs += [(f"var.{v.key}.description", v.description)]
    for s in form.steps:
        p = f"step.{s.key}."
        pairs += [("steps", s.key), (p + "name", s.name), (p + "instructions", s.instructions)]
        pairs += [(p + "model", s.model), (p + "reasoning_effort", s.reasoning_effort)]
        pairs += [(p + "format", s.format), (p + "schema", s.schema)]
        pairs += [(p + "file_name", s.file_name)] + [(p + "tools", t) for t in s.tools]
        if s.retry_invalid:
            pairs.append((p + "retry_invalid", "true"))
    return pairs


@pytest.mark.database_independent
def test_a_definition_survives_the_form_both_ways() -> None:
    form = step_form.form_of(DEFINITION)
    assert [s.name for s in form.steps] == ["research", "summary", "save"]
    back = step_form.definition_of(step_form.read_form(Posted(form_pairs(form))))
    assert back == DEFINITION


@pytest.mark.database_independent
def test_service_errors_land_on_the_field_their_path_names() -> None:
    form = step_form.form_of(DEFINITION)
    step_form.place_error(form, "steps[1].instructions", "unknown variable 'nope'")
    step_form.place_error(form, "steps.save.output.file_name", "bad file name")
    step_form.place_error(form, "steps.0.model", "unknown model 'gpt-9'")
    step_form.place_error(form, "variables.pages.default", "not an integer")
    step_form.place_error(form, "model.reasoning_effort", "unknown effort")
    step_form.place_error(form, "something.else", "whole form")
    assert form.steps[1].errors == {"instructions": "unknown variable 'nope'"}
    assert form.steps[2].errors == {"file_name": "bad file name"}
    assert form.steps[0].errors == {"model": "unknown model 'gpt-9'"}
    assert form.variables[1].errors == {"default": "not an integer"}
    assert form.errors == {"reasoning_effort": "unknown effort", "": "whole form"}


# -- the run page's model facts --------------------------------------------------------------


@pytest.mark.database_independent
def test_each_step_shows_its_default_and_the_runs_override() -> None:
    run = {
        "step_overrides": {"summary": {"model": "gpt-4o", "reasoning_effort": "medium"}},
        "usage": {"input_tokens": 120, "output_tokens": 30, "cached_tokens": 0},
        "credits_estimated": 0.5,
        "credits_actual": 0.0123,
    }
    steps = [
        {"number": 1, "name": "research", "model": "offline", "input_tokens": 100,
         "output_tokens": 20, "cached_tokens": 0, "reasoning_tokens": 0, "credits": 0.0},
        {"number": 2, "name": "summary (2)", "model": "gpt-4o", "reasoning_effort": "medium",
         "usage": {"input_tokens": 20, "output_tokens": 10}, "credits": 0.0123},
        {"number": 3, "name": "plain python step", "model": None},
    ]  # fmt: skip
    views = run_models.step_views(steps, DEFINITION, run)
    assert views[1]["default_model"] == "offline" and views[1]["override_model"] is None
    assert views[1]["tokens"] == [("in", 100), ("out", 20), ("cached", 0), ("reasoning", 0)]
    assert views[2]["default_model"] == "gpt-4o-mini" and views[2]["override_model"] == "gpt-4o"
    assert views[2]["default_effort"] == "high" and views[2]["override_effort"] == "medium"
    assert views[2]["credits_text"] == "0.0123"
    assert not views[3]["has_model"]
    totals = run_models.run_credits(run)
    assert totals["estimated"] == "0.5" and totals["actual"] == "0.0123"
    assert run_models.run_credits({"status": "queued"})["tracked"] is False


@pytest.mark.database_independent
def test_streamed_pieces_of_a_step_are_one_timeline_entry() -> None:
    def ev(seq: int, type_: str, **data: Any) -> dict[str, Any]:
        return {"seq": seq, "type": type_, "data": data, "step": data.get("step"),
                "text": data.get("text")}  # fmt: skip

    shown = fold_deltas(
        [
            ev(1, "step.started", number=1, name="draft"),
            ev(2, "message.delta", step=1, index=0, text="Hel"),
            ev(3, "message.delta", step=1, index=1, text="lo"),
            ev(4, "step.completed", number=1),
            ev(5, "message.delta", step=2, index=0, text="Next"),
        ]
    )
    assert [e["type"] for e in shown] == [
        "step.started",
        "message.delta",
        "step.completed",
        "message.delta",
    ]
    assert shown[1]["text"] == "Hello" and shown[1]["last_seq"] == 3
    assert live_text(shown) == {1: {"text": "Hello", "seq": 3}, 2: {"text": "Next", "seq": 5}}


# -- from the editor to a run ----------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "step_agents" / "site_report.json"


def example(name: str) -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return {**definition, "name": name}


async def test_an_agent_saved_in_the_editor_runs_with_overrides_and_its_steps_show_models(
    app: FastAPI, rt: Runtime
) -> None:
    name = f"report-{uuid.uuid4().hex[:6]}"
    async with console(app, rt) as (browser, api):
        csrf = csrf_of((await browser.get("/console/agents/new")).text)
        form = step_form.form_of(example(name))
        saved = await post_form(
            browser, "/console/agents/new", [("csrf", csrf), ("action", "save")] + form_pairs(form)
        )
        assert saved.status_code == 303, text_of(saved)
        assert saved.headers["location"] == f"/console/agents/{name}"
        page = await browser.get(saved.headers["location"])
        body = text_of(page)
        assert "as a draft" in body  # the notice
        assert f'href="/console/agents/{name}/edit"' in body
        assert 'name="override.draft.model"' in body and 'name="var.audience"' in body
        assert "As defined (offline)" in body and "As defined (medium)" in body

        # the editor opens on what was saved
        edit = text_of(await browser.get(f"/console/agents/{name}/edit"))
        assert "{{ steps.research.output }}" in edit and 'value="summary"' in edit

        # run the draft: another effort for one step, another audience
        agent = (await api.get(f"/v1/agents/{name}")).json()
        revision = (await api.get(f"/v1/agents/{name}/revisions")).json()["items"][0]["id"]
        started = await post_form(
            browser,
            f"/console/agents/{name}/runs",
            [
                ("csrf", csrf),
                ("revision_id", revision),
                ("input.question", "What did sales do?"),
                ("var.audience", "the board"),
                ("var.max_points", "5"),
                ("override.research.effort", "high"),
                ("override.draft.model", ""),
            ],
        )
        assert started.status_code == 303, text_of(started)
        run_id = started.headers["location"].rsplit("/", 1)[1]
        done = (await api.get(f"/v1/runs/{run_id}", params={"wait": 30})).json()
        assert done["status"] == "succeeded", done
        assert done["variables"] == {"audience": "the board"}
        assert done["step_overrides"] == {"research": {"reasoning_effort": "high"}}
        assert agent["kind"] == "steps"

        body = text_of(await browser.get(f"/console/runs/{run_id}"))
        facts = re.findall(r"<p class=\"small step-model\" data-step-model>(.*?)</p>", body, re.S)
        assert len(facts) == 3, body
        research, draft, summary = (" ".join(re.sub(r"<[^>]+>", " ", f).split()) for f in facts)
        assert "Model: offline" in research and "Reasoning: high override (default low)" in research
        assert "Reasoning: medium" in draft and "override" not in draft
        for fact in (research, draft, summary):
            assert re.search(r"Tokens: [\d,]+ in ?, [\d,]+ out", fact), fact
            assert "Credits: 0" in fact
        assert 'id="step-overrides"' in body
        assert 'id="run-credits"' in body and "actual 0" in body


async def test_the_services_refusal_is_shown_next_to_the_step_it_is_about(
    app: FastAPI, rt: Runtime
) -> None:
    async with console(app, rt) as (browser, _):
        csrf = csrf_of((await browser.get("/console/agents/new")).text)
        definition = example(f"bad-{uuid.uuid4().hex[:6]}")
        definition["steps"][1]["instructions"] = "Hello {{ variables.nope }}"
        form = step_form.form_of(definition)
        page = await post_form(
            browser, "/console/agents/new", [("csrf", csrf), ("action", "save")] + form_pairs(form)
        )
        assert page.status_code == 422
        key = form.steps[1].key
        assert re.search(
            rf"id=\"s-{key}-instructions-error\">[^<]*unknown variable 'variables.nope'",
            text_of(page),
        )


async def test_a_run_paused_on_its_budget_goes_on_once_the_overrun_is_approved_on_its_page(
    app: FastAPI, rt: Runtime
) -> None:
    async with console(app, rt) as (browser, api):
        made = await api.post("/v1/agents", json=example("budgeted"))
        assert made.status_code == 201, made.text
        body = {
            "agent_id": "budgeted",
            "revision_id": made.json()["revision"]["id"],
            "input": {"question": "What changed?"},
            "budget": {"tokens": 5},
        }
        run = (await api.post("/v1/runs", json=body)).json()
        for _ in range(300):
            run = (await api.get(f"/v1/runs/{run['id']}")).json()
            if run["status"] == "paused":
                break
            await asyncio.sleep(0.02)
        assert run["status"] == "paused" and run["waiting_on"]["kind"] == "budget", run

        page = text_of(await browser.get(f"/console/runs/{run['id']}"))
        assert "Paused on the run's budget: research needs about" in page
        assert 'action="/console/runs/' in page and "Approve the overrun" in page
        approved = await browser.post(
            f"/console/runs/{run['id']}/budget/approve",
            data={"csrf": csrf_of(page), "unit": "tokens", "amount": "100000"},
        )
        assert approved.status_code == 303, text_of(approved)
        done = (await api.get(f"/v1/runs/{run['id']}", params={"wait": 30})).json()
        assert done["status"] == "succeeded", done
        refused = await browser.post(
            f"/console/runs/{run['id']}/budget/approve",
            data={"csrf": csrf_of(page), "unit": "tokens", "amount": "5"},
        )
        assert refused.status_code == 409  # no longer paused


async def test_the_run_form_estimates_credits_per_model_call_before_starting(
    app: FastAPI, rt: Runtime
) -> None:
    async with console(app, rt) as (browser, api):
        made = await api.post("/v1/agents", json=example("estimated"))
        assert made.status_code == 201, made.text
        page = await browser.get("/console/agents/estimated")
        fields = [
            ("csrf", csrf_of(page.text)),
            ("revision_id", made.json()["revision"]["id"]),
            ("input.question", "What did sales do?"),
            ("override.summary.model", "gpt-4o-mini"),
            ("action", "estimate"),
        ]
        shown = await post_form(browser, "/console/agents/estimated/runs", fields)
        assert shown.status_code == 200, text_of(shown)
        body = text_of(shown)
        assert re.search(r"Estimated credits: (\d|0\.)", body), body
        calls = re.findall(r'<tr><th scope="row">(\w+)</th><td class="mono">([\w.-]+)</td>', body)
        assert calls == [("research", "offline"), ("draft", "offline"), ("summary", "gpt-4o-mini")]
        assert (await api.get("/v1/runs", params={"agent_id": "estimated"})).json()["items"] == []


async def test_editing_makes_a_new_draft_and_keeps_what_the_form_did_not_change(
    app: FastAPI, rt: Runtime
) -> None:
    async with console(app, rt) as (browser, api):
        definition = {
            **example("kept"),
            "timeout_seconds": 120.0,
            "approval_rules": [{"tool": "read_notes"}],
        }
        made = await api.post("/v1/agents", json=definition)
        assert made.status_code == 201, made.text
        page = await browser.get("/console/agents/kept/edit")
        body = text_of(page)
        assert 'value="120"' in body and '"tool": "read_notes"' in body and "readonly" in body

        stored = (await api.get("/v1/agents/kept/revisions")).json()["items"][0]["config"]
        form = step_form.form_of(stored)
        form.steps[1].instructions += "\nKeep it short."
        saved = await post_form(
            browser,
            "/console/agents/kept/edit",
            [("csrf", csrf_of(page.text)), ("action", "publish")] + form_pairs(form),
        )
        assert saved.status_code == 303, text_of(saved)
        revisions = (await api.get("/v1/agents/kept/revisions")).json()["items"]
        assert len(revisions) == 2 and revisions[0]["stage"] == "published"
        config = revisions[0]["config"]
        assert config["steps"][1]["instructions"].endswith("Keep it short.")
        assert config["timeout_seconds"] == 120.0
        assert config["approval_rules"] == stored["approval_rules"]
        assert config["variables"] == stored["variables"] and config["model"] == stored["model"]
