"""The console's approvals inbox and agents pages over HTTP: deciding, publishing, starting runs."""

import asyncio
import html
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from runplane.domain.ids import new_id
from runplane.domain.models import Principal, utcnow
from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.store import agents as agents_store
from runplane.testing.console import sign_in

BASE = "http://runplane.test"
NOTES = {"calls": [{"tool": "read_notes", "arguments": {"day": "Monday"}}]}


class Session:
    """A signed-in browser (cookies kept) and an API client of the same tenant."""

    def __init__(self, browser: httpx.AsyncClient, api: httpx.AsyncClient, who: Principal) -> None:
        self.browser = browser
        self.api = api
        self.who = who

    async def csrf(self, path: str) -> str:
        page = await self.browser.get(path)
        match = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    async def start(self, agent: str, input: Any, **extra: Any) -> dict[str, Any]:
        body = {"agent_id": agent, "input": input, **extra}
        r = await self.api.post("/v1/runs", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    async def until(self, run_id: str, *statuses: str, timeout: float = 15) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            run = (await self.api.get(f"/v1/runs/{run_id}")).json()
            if run["status"] in statuses:
                return run
            assert loop.time() < deadline, f"run stayed {run['status']}, wanted {statuses}"
            await asyncio.sleep(0.02)

    async def paused_on_a_tool_call(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """A call_tools run waiting for its approval, and that approval."""
        run = await self.start("call_tools", NOTES, approval="ON_TOOL_CALL", name="notes run")
        await self.until(run["id"], "paused")
        r = await self.api.get("/v1/approvals", params={"run_id": run["id"], "status": "pending"})
        (approval,) = r.json()["items"]
        return run, approval


@asynccontextmanager
async def signed_in(app: FastAPI, rt: Runtime, role: str = "admin") -> AsyncIterator[Session]:
    tenant = f"p-{uuid.uuid4().hex[:10]}"
    key = await auth.create_key(rt.db, tenant, None, role)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url=BASE, timeout=30) as browser,
        httpx.AsyncClient(
            transport=transport,
            base_url=BASE,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        ) as api,
    ):
        r = await sign_in(browser, key)
        assert r.status_code == 303, r.text
        yield Session(browser, api, await auth.authenticate(rt, key))


def text_of(page: httpx.Response) -> str:
    return html.unescape(page.text)


# -- approvals ------------------------------------------------------------------------------


async def test_an_empty_inbox_says_nothing_waits(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as s:
        page = await s.browser.get("/console/approvals")
        assert page.status_code == 200
        assert "Nothing waits for you" in page.text
        assert 'aria-current="page">Approvals' in page.text
        decided = await s.browser.get("/console/approvals", params={"status": "approved"})
        assert "No approved approvals" in decided.text


async def test_the_inbox_lists_a_pending_call_and_approving_it_resumes_the_run(
    app: FastAPI, rt: Runtime
) -> None:
    async with signed_in(app, rt) as s:
        run, approval = await s.paused_on_a_tool_call()
        page = await s.browser.get("/console/approvals")
        body = text_of(page)
        assert page.status_code == 200
        assert f'href="/console/runs/{run["id"]}"' in body and "notes run" in body
        assert "call_tools" in body and "Tool call" in body and "read_notes" in body
        assert '"day": "Monday"' in body
        assert f'action="/console/approvals/{approval["id"]}/decide"' in body
        assert f'<label for="{approval["id"]}-comment">' in body

        token = await s.csrf("/console/approvals")
        r = await s.browser.post(
            f"/console/approvals/{approval['id']}/decide",
            data={"decision": "approve", "comment": "fine", "csrf": token},
        )
        assert r.status_code == 303 and r.headers["location"] == "/console/approvals"
        after = await s.browser.get(r.headers["location"])
        assert "Approved — the run goes on." in text_of(after)
        assert "Nothing waits for you" in after.text

        done = await s.until(run["id"], "succeeded")
        assert done["result"]["content"]["results"][0]["output"]
        decided = text_of(await s.browser.get("/console/approvals", params={"status": "approved"}))
        assert approval["id"] in decided and "“fine”" in decided

        again = await s.browser.post(
            f"/console/approvals/{approval['id']}/decide",
            data={"decision": "reject", "csrf": token},
        )
        assert again.status_code == 303
        notice = text_of(await s.browser.get(again.headers["location"]))
        assert "Not done:" in notice and "already decided" in notice


async def test_rejecting_with_a_comment_reaches_the_agent(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as s:
        run, approval = await s.paused_on_a_tool_call()
        token = await s.csrf("/console/approvals")
        r = await s.browser.post(
            f"/console/approvals/{approval['id']}/decide",
            data={"decision": "reject", "comment": "not on Mondays", "csrf": token},
        )
        assert r.status_code == 303
        assert "Rejected." in text_of(await s.browser.get(r.headers["location"]))
        done = await s.until(run["id"], "succeeded")
        error = done["result"]["content"]["results"][0]["error"]
        assert error["code"] == "tool_rejected" and "not on Mondays" in error["message"]
        rejected = text_of(await s.browser.get("/console/approvals?status=rejected"))
        assert "not on Mondays" in rejected and "Reject" in rejected


async def test_approving_with_edited_arguments_and_bad_json_is_a_notice(
    app: FastAPI, rt: Runtime
) -> None:
    async with signed_in(app, rt) as s:
        run, approval = await s.paused_on_a_tool_call()
        token = await s.csrf("/console/approvals")
        url = f"/console/approvals/{approval['id']}/decide"
        bad = await s.browser.post(
            url, data={"decision": "approve", "arguments": "{nope", "csrf": token}
        )
        assert bad.status_code == 303
        assert "not valid JSON" in text_of(await s.browser.get(bad.headers["location"]))
        ok = await s.browser.post(
            url, data={"decision": "approve", "arguments": '{"day": "Friday"}', "csrf": token}
        )
        assert ok.status_code == 303
        done = await s.until(run["id"], "succeeded")
        notes = done["result"]["content"]["results"][0]["output"]
        assert notes and all(n["day"] == "Friday" for n in notes)


async def test_forms_without_the_csrf_token_are_refused(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as s:
        run, approval = await s.paused_on_a_tool_call()
        r = await s.browser.post(
            f"/console/approvals/{approval['id']}/decide", data={"decision": "approve"}
        )
        assert r.status_code == 403 and "<html" in r.text
        forged = await s.browser.post(
            f"/console/approvals/{approval['id']}/decide",
            data={"decision": "approve", "csrf": "forged"},
        )
        assert forged.status_code == 403
        still = (await s.api.get(f"/v1/approvals/{approval['id']}")).json()
        assert still["status"] == "pending"

        started = await s.browser.post("/console/agents/steps/runs", data={"input.steps": "1"})
        assert started.status_code == 403
        revs = (await s.api.get("/v1/agents/steps/revisions")).json()["items"]
        published = await s.browser.post(
            f"/console/agents/steps/revisions/{revs[0]['id']}/publish", data={}
        )
        assert published.status_code == 403
        await s.api.post(f"/v1/runs/{run['id']}/cancel")


async def test_an_unknown_approval_is_a_404_page(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as s:
        token = await s.csrf("/console/approvals")
        r = await s.browser.post(
            "/console/approvals/apr_nothing/decide", data={"decision": "approve", "csrf": token}
        )
        assert r.status_code == 404 and "<html" in r.text


# -- agents ---------------------------------------------------------------------------------


async def test_the_agents_list_and_an_agent_page_render(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as s:
        page = await s.browser.get("/console/agents")
        body = text_of(page)
        assert page.status_code == 200 and 'aria-current="page">Agents' in page.text
        for name in ("steps", "call_tools", "research", "echo", "lg_echo"):
            assert f'href="/console/agents/{name}"' in body
        assert "Run a number of durable steps" in body  # first line of the description
        assert "graph" in body

        detail = await s.browser.get("/console/agents/steps")
        body = text_of(detail)
        assert detail.status_code == 200
        assert "<h1>steps</h1>" in body and "Revisions" in body and "Published" in body
        assert 'action="/console/agents/steps/runs"' in body
        assert "<fieldset>" in body and "<legend>Input</legend>" in body

        assert (await s.browser.get("/console/agents/nobody")).status_code == 404


def inputs(page: str) -> dict[str, str]:
    """Each form control's name and its tag, from the page."""
    found = {}
    for tag, attrs in re.findall(r"<(input|textarea|select)\b([^>]*)>", page):
        name = re.search(r'name="([^"]+)"', attrs)
        if name:
            found[name.group(1)] = tag + attrs
    return found


async def test_the_start_form_is_generated_from_the_input_schema(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as s:
        steps = inputs((await s.browser.get("/console/agents/steps")).text)
        assert 'type="number"' in steps["input.steps"] and 'value="3"' in steps["input.steps"]
        assert 'step="1"' in steps["input.steps"] and 'max="1000"' in steps["input.steps"]
        assert 'step="any"' in steps["input.sleep"] and 'value="0.0"' in steps["input.sleep"]
        assert 'id="f-steps"' in steps["input.steps"]
        assert "name" in steps and "approval" in steps and "csrf" in steps

        research = (await s.browser.get("/console/agents/research")).text
        fields = inputs(research)
        assert (
            fields["input.question"].startswith("textarea")
            and "required" in fields["input.question"]
        )
        assert '<label for="f-question">Question <abbr class="req"' in research
        assert 'type="number"' in fields["input.top_k"]

        calls = inputs((await s.browser.get("/console/agents/call_tools")).text)
        assert calls["input.calls"].startswith("textarea") and "data-json" in calls["input.calls"]

        graph = (await s.browser.get("/console/agents/lg_echo")).text
        fields = inputs(graph)
        assert fields["input"].startswith("textarea") and not any(
            k.startswith("input.") for k in fields
        )
        assert "A graph takes its input as JSON" in graph


async def test_posting_the_form_starts_a_manual_run(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as s:
        token = await s.csrf("/console/agents/steps")
        r = await s.browser.post(
            "/console/agents/steps/runs",
            data={
                "csrf": token,
                "input.steps": "2",
                "input.sleep": "0",
                "name": "from the console",
                "approval": "NONE",
            },
        )
        assert r.status_code == 303, r.text
        assert re.match(r"^/console/runs/run_\w+$", r.headers["location"])
        run_id = r.headers["location"].rsplit("/", 1)[1]
        run = await s.until(run_id, "succeeded")
        assert run["input"] == {"steps": 2, "sleep": 0}
        assert run["trigger"] == "manual" and run["name"] == "from the console"

        token = await s.csrf("/console/agents/echo")
        r = await s.browser.post(
            "/console/agents/echo/runs", data={"csrf": token, "input": '{"hello": [1, 2]}'}
        )
        assert r.status_code == 303
        echoed = await s.until(r.headers["location"].rsplit("/", 1)[1], "succeeded")
        assert echoed["input"] == {"hello": [1, 2]} and echoed["name"] is None


async def test_a_run_started_to_ask_first_shows_in_the_inbox(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as s:
        token = await s.csrf("/console/agents/call_tools")
        r = await s.browser.post(
            "/console/agents/call_tools/runs",
            data={
                "csrf": token,
                "input.calls": '[{"tool": "read_notes", "arguments": {"day": "Monday"}}]',
                "approval": "ON_TOOL_CALL",
            },
        )
        assert r.status_code == 303, r.text
        run_id = r.headers["location"].rsplit("/", 1)[1]
        await s.until(run_id, "paused")
        inbox = (await s.browser.get("/console/approvals")).text
        assert f"/console/runs/{run_id}" in inbox and "read_notes" in inbox
        await s.api.post(f"/v1/runs/{run_id}/cancel")


async def test_bad_values_bring_the_form_back_with_the_message(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as s:
        token = await s.csrf("/console/agents/steps")
        r = await s.browser.post(
            "/console/agents/steps/runs",
            data={"csrf": token, "input.steps": "0", "input.sleep": "0", "name": "kept name"},
        )
        assert r.status_code == 422
        body = text_of(r)
        assert 'class="field-error" id="f-steps-error"' in body
        assert "input.steps" in body and "minimum of 1" in body
        assert 'aria-invalid="true"' in body and 'value="kept name"' in body
        fields = inputs(r.text)
        assert 'value="0"' in fields["input.steps"]

        r = await s.browser.post(
            "/console/agents/steps/runs", data={"csrf": token, "input.steps": "two"}
        )
        assert r.status_code == 422 and "This must be a number." in r.text
        assert 'value="two"' in inputs(r.text)["input.steps"]
        r = await s.browser.post(
            "/console/agents/steps/runs", data={"csrf": token, "input.steps": "1.5"}
        )
        assert r.status_code == 422 and "whole number" in r.text

        r = await s.browser.post(
            "/console/agents/call_tools/runs", data={"csrf": token, "input.calls": "[{nope"}
        )
        assert r.status_code == 422 and "not valid JSON" in r.text
        assert "[{nope" in text_of(r)

        r = await s.browser.post("/console/agents/research/runs", data={"csrf": token})
        assert r.status_code == 422 and 'id="f-question-error">This is required.' in r.text

        r = await s.browser.post("/console/agents/echo/runs", data={"csrf": token, "input": "[1]"})
        assert r.status_code == 422 and "is not of type" in text_of(r)
        listed = (await s.api.get("/v1/runs")).json()["items"]
        assert listed == []


async def test_publishing_a_draft_revision(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as s:
        agent = (await s.api.get("/v1/agents/echo")).json()
        current = agent["published_revision_id"]
        draft_id = new_id("rev")
        async with rt.db.write() as conn:
            await agents_store.insert_revision(
                conn,
                id=draft_id,
                tenant_id=s.who.tenant_id,
                agent_id=agent["id"],
                hash=uuid.uuid4().hex,
                stage="draft",
                config={"input_schema": {"type": "object"}},
                created_at=utcnow(),
            )
        page = (await s.browser.get("/console/agents/echo")).text
        action = f'action="/console/agents/echo/revisions/{draft_id}/publish"'
        assert action in page and "Draft" in page
        assert f"/revisions/{current}/publish" not in page, "the published one has no button"

        token = await s.csrf("/console/agents/echo")
        r = await s.browser.post(
            f"/console/agents/echo/revisions/{draft_id}/publish", data={"csrf": token}
        )
        assert r.status_code == 303 and r.headers["location"] == "/console/agents/echo"
        shown = text_of(await s.browser.get(r.headers["location"]))
        assert f"Revision {draft_id} is published" in shown
        assert (await s.api.get("/v1/agents/echo")).json()["published_revision_id"] == draft_id
        assert f"/revisions/{current}/publish" in shown, "the old one is a draft again"

        back = await s.browser.post(
            f"/console/agents/echo/revisions/{current}/publish", data={"csrf": token}
        )
        assert back.status_code == 303, back.text
        assert (await s.api.get("/v1/agents/echo")).json()["published_revision_id"] == current

        missing = await s.browser.post(
            "/console/agents/echo/revisions/rev_nothing/publish", data={"csrf": token}
        )
        assert missing.status_code == 404 and "<html" in missing.text
