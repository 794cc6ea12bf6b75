"""The run details page over HTTP: what it shows, its live events, its actions, its safety."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.testing.console import csrf_of

BASE = "http://runplane.test"


@asynccontextmanager
async def signed_in(
    app: FastAPI, rt: Runtime, role: str = "admin", tenant: str | None = None
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A browser-like client (cookies kept) signed in to the console, and its API key."""
    key = await auth.create_key(rt.db, tenant or f"rp-{uuid.uuid4().hex[:10]}", None, role)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE, timeout=30
    ) as client:
        form = await client.get("/console/login")
        data = {"api_key": key, "next": "/console/runs", "csrf": csrf_of(form.text)}
        r = await client.post("/console/login", data=data)
        assert r.status_code == 303, r.text
        yield client, key


async def start_run(app: FastAPI, key: str, agent: str, wait: float = 20, **body: Any) -> dict:
    """Start a run through the API (and wait for it to end, unless ``wait=0``)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    ) as api:
        body = {"agent_id": agent, "input": {}, "wait": wait or None, **body}
        r = await api.post("/v1/runs", json=body)
        assert r.status_code == 201, r.text
        return r.json()


async def run_status(app: FastAPI, key: str, run_id: str, wait: float = 0) -> dict:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    ) as api:
        r = await api.get(f"/v1/runs/{run_id}", params={"wait": wait} if wait else None)
        assert r.status_code == 200, r.text
        return r.json()


def sse_events(text: str) -> list[dict]:
    """The ``runplane`` messages of an event stream, parsed."""
    found = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if lines.get("event") == "runplane":
            data = json.loads(lines["data"])
            assert str(data["seq"]) == lines["id"]
            found.append(data)
    return found


async def test_the_page_of_a_finished_echo_run(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as (client, key):
        run = await start_run(app, key, "echo", name="hello page", input={"greeting": "hi"})
        r = await client.get(f"/console/runs/{run['id']}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        page = r.text
        assert "<h1>hello page</h1>" in page
        assert 'data-status="succeeded"' in page and "Succeeded in" in page
        assert 'aria-live="polite"' in page
        assert 'href="/console/agents/echo"' in page  # agent link
        assert run["revision_id"] in page
        # header actions, each a form with the CSRF token
        for action in ("rerun", "duplicate"):
            assert f'action="/console/runs/{run["id"]}/{action}"' in page
        assert f'action="/console/runs/{run["id"]}/cancel"' not in page, "it has ended"
        # steps, timeline, result
        assert "1.</span> echo" in page and "Rerun from here" in page
        assert 'name="from_step" value="1"' in page
        assert '<ol id="timeline"' in page
        for label in ("Status", "Step started", "Step completed", "Result"):
            assert f'<span class="ev-type">{label}</span>' in page
        assert "&#34;greeting&#34;: &#34;hi&#34;" in page  # pretty JSON, escaped
        assert 'data-live="false"' in page


async def test_a_document_result_is_markdown_and_its_sources_are_listed(
    app: FastAPI, rt: Runtime
) -> None:
    async with signed_in(app, rt) as (client, key):
        run = await start_run(app, key, "research", input={"question": "how does the WAL work"})
        assert run["status"] == "succeeded", run
        page = (await client.get(f"/console/runs/{run['id']}")).text
        assert '<div class="doc"><h1>' in page  # markdown rendered
        assert "<h3>Sources used</h3>" in page
        # a source's corpus:// url is not http(s): shown as text, not as a link
        sources = page.split('<ol class="sources">', 1)[1].split("</ol>", 1)[0]
        assert "Write-ahead logging in SQLite" in sources and "corpus://" in sources
        assert "href=" not in sources
        assert '<span class="ev-type">Plan</span>' in page
        assert '<span class="ev-type">Reasoning</span>' in page
        assert '<span class="ev-type">Tool call</span>' in page


async def test_a_failed_run_shows_its_error(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as (client, key):
        run = await start_run(app, key, "fail", input={"in_step": True})
        page = (await client.get(f"/console/runs/{run['id']}")).text
        assert "Failed (step 2): the fail agent&#39;s second step always fails" in page
        assert "example_failure" in page and 'href="#step-2"' in page


async def test_another_tenants_run_is_a_404_page(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as (_, owner_key):
        run = await start_run(app, owner_key, "echo")
    async with signed_in(app, rt) as (stranger, _):
        r = await stranger.get(f"/console/runs/{run['id']}")
        assert r.status_code == 404 and "<html" in r.text and "Not found" in r.text
        events = await stranger.get(f"/console/runs/{run['id']}/events")
        assert events.status_code == 404
        token = csrf_of((await stranger.get("/console/runs")).text)
        for action in ("cancel", "rerun"):
            r = await stranger.post(f"/console/runs/{run['id']}/{action}", data={"csrf": token})
            assert r.status_code == 404, action


async def test_the_source_context_is_for_admin_keys_only(app: FastAPI, rt: Runtime) -> None:
    tenant = f"rp-{uuid.uuid4().hex[:10]}"
    secret = {"crm_note": "very-private-context-value"}
    async with signed_in(app, rt, "admin", tenant) as (admin, key):
        run = await start_run(app, key, "echo", context=secret, variables={"tone": "dry"})
        page = (await admin.get(f"/console/runs/{run['id']}")).text
        assert "very-private-context-value" in page and 'id="run-context"' in page
        assert "&#34;tone&#34;: &#34;dry&#34;" in page  # variables used
    async with signed_in(app, rt, "member", tenant) as (member, _):
        page = (await member.get(f"/console/runs/{run['id']}")).text
        assert "very-private-context-value" not in page
        assert 'id="run-context-hidden"' in page and "only admin keys" in page
        assert "&#34;tone&#34;: &#34;dry&#34;" in page


async def test_what_agents_produce_is_escaped(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as (client, key):
        evil = "<script>alert(1)</script>"
        run = await start_run(app, key, "echo", name=evil, input={"text": evil, evil: evil})
        page = (await client.get(f"/console/runs/{run['id']}")).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<script>alert" not in page
        # the stream carries it as JSON text; run.js puts it in the page with textContent
        stream = (await client.get(f"/console/runs/{run['id']}/events")).text
        assert any(evil in json.dumps(e["data"]) for e in sse_events(stream))
        # a document with raw HTML and a javascript: link stays inert
        doc = await start_run(
            app, key, "research", input={"question": "<img src=x onerror=alert(1)> wal"}
        )
        page = (await client.get(f"/console/runs/{doc['id']}")).text
        assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


async def test_the_event_stream_replays_then_follows_a_run_to_its_end(
    app: FastAPI, rt: Runtime
) -> None:
    async with signed_in(app, rt) as (client, key):
        done = await start_run(app, key, "echo")
        r = await client.get(f"/console/runs/{done['id']}/events", params={"after": 0})
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r.text)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert events[-1]["type"] == "status" and events[-1]["data"]["status"] == "succeeded"
        assert {"seq", "type", "at", "data"} <= set(events[0])
        assert r.text.rstrip().endswith("event: end\ndata: {}")
        # from a point on; and after the end, nothing more (the stream closes at once)
        later = sse_events((await client.get(f"/console/runs/{done['id']}/events?after=2")).text)
        assert [e["seq"] for e in later] == [e["seq"] for e in events[2:]]
        empty = await client.get(
            f"/console/runs/{done['id']}/events", headers={"Last-Event-ID": str(events[-1]["seq"])}
        )
        assert sse_events(empty.text) == []

        live = await start_run(app, key, "steps", wait=0, input={"steps": 3, "sleep": 0.2})
        stream = await client.get(f"/console/runs/{live['id']}/events?after=0")
        types = [e["type"] for e in sse_events(stream.text)]
        assert types.count("step.completed") == 3 and types[-1] == "status"
        assert sse_events(stream.text)[-1]["data"]["status"] == "succeeded"


async def test_the_stream_needs_a_session(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as (_, key):
        run = await start_run(app, key, "echo")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as anon:
        r = await anon.get(f"/console/runs/{run['id']}/events")
        assert r.status_code == 303 and "/console/login" in r.headers["location"]


async def test_cancel_needs_the_csrf_token_and_stops_the_run(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as (client, key):
        run = await start_run(app, key, "steps", wait=0, input={"steps": 50, "sleep": 0.2})
        page = (await client.get(f"/console/runs/{run['id']}")).text
        assert f'action="/console/runs/{run["id"]}/cancel"' in page
        assert 'data-live="true"' in page
        url = f"/console/runs/{run['id']}/cancel"
        assert (await client.post(url)).status_code == 403
        assert (await client.post(url, data={"csrf": "forged"})).status_code == 403
        assert (await run_status(app, key, run["id"]))["status"] not in ("canceled",)
        r = await client.post(url, data={"csrf": csrf_of(page)})
        assert r.status_code == 303 and r.headers["location"].startswith(
            f"/console/runs/{run['id']}"
        )
        ended = await run_status(app, key, run["id"], wait=20)
        assert ended["status"] == "canceled"
        page = (await client.get(f"/console/runs/{run['id']}")).text
        assert "Canceled" in page and f'action="/console/runs/{run["id"]}/cancel"' not in page
        again = await client.post(url, data={"csrf": csrf_of(page)})
        assert again.status_code == 409 and "<html" in again.text


async def test_rerun_and_rerun_from_a_step(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as (client, key):
        run = await start_run(app, key, "steps", input={"steps": 3, "sleep": 0})
        page = (await client.get(f"/console/runs/{run['id']}")).text
        url = f"/console/runs/{run['id']}/rerun"
        assert (await client.post(url, data={"from_step": "2"})).status_code == 403
        refused = await client.post(url, data={"from_step": "2", "csrf": "x"})
        assert refused.status_code == 403
        r = await client.post(url, data={"from_step": "2", "csrf": csrf_of(page)})
        assert r.status_code == 303
        new_id = r.headers["location"].rsplit("/", 1)[1]
        assert new_id != run["id"]
        new = await run_status(app, key, new_id, wait=20)
        assert new["rerun_of"] == run["id"] and new["from_step"] == 2
        assert new["status"] == "succeeded"
        new_page = (await client.get(r.headers["location"])).text
        assert f'href="/console/runs/{run["id"]}"' in new_page  # "Rerun of"
        whole = await client.post(url, data={"csrf": csrf_of(page)})
        assert whole.status_code == 303
        again = await run_status(app, key, whole.headers["location"].rsplit("/", 1)[1], wait=20)
        assert again["rerun_of"] == run["id"] and again["from_step"] is None
        bad = await client.post(url, data={"from_step": "nope", "csrf": csrf_of(page)})
        assert bad.status_code == 422


async def test_pending_approvals_are_decided_inline(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as (client, key):
        calls = [{"tool": "add_note", "arguments": {"text": "<b>bold</b>", "day": "Monday"}}]
        run = await start_run(
            app, key, "call_tools", wait=0, approval="ON_TOOL_CALL", input={"calls": calls}
        )
        for _ in range(100):
            current = await run_status(app, key, run["id"])
            if current["status"] == "paused":
                break
            await asyncio.sleep(0.05)
        assert current["status"] == "paused", current
        approval_id = current["waiting_on"]["approval_id"]
        page = (await client.get(f"/console/runs/{run['id']}")).text
        assert "Waiting for approval of a call to add_note" in page
        assert "Approve a call to add_note?" in page and "&lt;b&gt;bold&lt;/b&gt;" in page
        url = f"/console/runs/{run['id']}/approvals/{approval_id}"
        assert f'action="{url}"' in page
        assert (await client.post(url, data={"decision": "approve"})).status_code == 403
        other = await start_run(app, key, "echo")
        wrong_run = f"/console/runs/{other['id']}/approvals/{approval_id}"
        r = await client.post(wrong_run, data={"decision": "approve", "csrf": csrf_of(page)})
        assert r.status_code == 404
        r = await client.post(
            url, data={"decision": "approve", "comment": "fine", "csrf": csrf_of(page)}
        )
        assert r.status_code == 303 and r.headers["location"].startswith(
            f"/console/runs/{run['id']}"
        )
        ended = await run_status(app, key, run["id"], wait=20)
        assert ended["status"] == "succeeded"
        page = (await client.get(f"/console/runs/{run['id']}")).text
        assert "Waiting for your decision" not in page
        assert f"{approval_id} approved by key:" in page and "fine" in page


@pytest.mark.database_independent
def test_only_http_sources_become_links() -> None:
    from runplane.console.views.run import _source

    assert _source({"title": "A", "url": "https://example.com/a"})["link"] is True
    assert _source({"title": "B", "url": "HTTP://example.com/b"})["link"] is True
    for url in ("javascript:alert(1)", "corpus://x.md", "data:text/html,<b>", None):
        assert _source({"title": "C", "url": url})["link"] is False
