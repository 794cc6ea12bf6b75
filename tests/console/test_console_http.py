"""The console over HTTP: sign-in and its cookie, CSRF, the runs list and its actions."""

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.testing.console import csrf_of, sign_in


@asynccontextmanager
async def console(
    app: FastAPI, rt: Runtime, role: str = "admin"
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A signed-in browser-like client (cookies kept) and its API key."""
    key = await auth.create_key(rt.db, f"c-{uuid.uuid4().hex[:10]}", None, role)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://runplane.test", timeout=30
    ) as client:
        r = await sign_in(client, key)
        assert r.status_code == 303 and r.headers["location"] == "/console/runs", r.text
        yield client, key


async def make_run(
    app: FastAPI,
    key: str,
    agent: str,
    name: str | None = None,
    wait: float = 20,
    input: dict | None = None,
):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://runplane.test",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    ) as api:
        body = {"agent_id": agent, "input": input or {}, "name": name, "wait": wait}
        r = await api.post("/v1/runs", json=body)
        assert r.status_code == 201, r.text
        return r.json()


async def test_pages_ask_for_sign_in_and_a_good_key_sets_a_strict_httponly_cookie(
    app: FastAPI, rt: Runtime
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://runplane.test"
    ) as anon:
        r = await anon.get("/console/runs?status=failed")
        assert r.status_code == 303
        assert r.headers["location"].startswith("/console/login?next=/console/runs")
        bad = await sign_in(anon, "rp_nope", "/console")
        assert bad.status_code == 401 and "not valid" in bad.text
        assert "set-cookie" not in bad.headers
        key = await auth.create_key(rt.db, f"c-{uuid.uuid4().hex[:8]}", None, "member")
        good = await sign_in(anon, key, "https://evil.example/")
        assert good.status_code == 303 and good.headers["location"] == "/console/runs"
        cookie = good.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
        assert key not in good.headers["set-cookie"], "the key must not sit in the cookie in clear"
        assert (await anon.get("/console/runs")).status_code == 200


async def test_a_forged_or_stale_cookie_means_signing_in_again(app: FastAPI) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://runplane.test",
        cookies={"runplane_console": "gAAAAA-not-a-session"},
    ) as client:
        r = await client.get("/console/runs")
        assert r.status_code == 303 and "/console/login" in r.headers["location"]


async def test_sign_out_needs_the_csrf_token_and_ends_the_session(
    app: FastAPI, rt: Runtime
) -> None:
    async with console(app, rt) as (client, _):
        page = await client.get("/console/runs")
        refused = await client.post("/console/logout", data={"csrf": "forged"})
        assert refused.status_code == 403 and "<html" in refused.text
        out = await client.post("/console/logout", data={"csrf": csrf_of(page.text)})
        assert out.status_code == 303 and out.headers["location"] == "/console/login"
        assert (await client.get("/console/runs")).status_code == 303


async def test_the_list_searches_filters_and_shows_an_empty_state(
    app: FastAPI, rt: Runtime
) -> None:
    async with console(app, rt) as (client, key):
        empty = await client.get("/console/runs")
        assert "No runs yet" in empty.text
        await make_run(app, key, "echo", "alpha report")
        await make_run(app, key, "echo", "beta summary")
        await make_run(app, key, "fail", "gamma")
        page = (await client.get("/console/runs", params={"q": "alpha"})).text
        assert "alpha report" in page and "beta summary" not in page
        failed = (await client.get("/console/runs", params={"status": "failed"})).text
        assert "gamma" in failed and "alpha report" not in failed
        by_agent = (await client.get("/console/runs", params={"agent": "echo"})).text
        assert "alpha report" in by_agent and "beta summary" in by_agent and "gamma" not in by_agent
        none = (await client.get("/console/runs", params={"q": "zzz-nothing"})).text
        assert "No runs match" in none


async def test_bulk_archive_and_delete_say_why_a_run_cannot_go(app: FastAPI, rt: Runtime) -> None:
    async with console(app, rt) as (client, key):
        done = await make_run(app, key, "echo", "finished one")
        slow = {"steps": 10, "sleep": 0.5}
        going = await make_run(app, key, "steps", "still going", wait=0, input=slow)
        page = (await client.get("/console/runs")).text
        token = csrf_of(page)
        r = await client.post(
            "/console/runs/bulk",
            data={"action": "archive", "run_ids": [done["id"]], "csrf": token},
        )
        assert r.status_code == 303 and r.headers["location"] == "/console/runs"
        listed = (await client.get("/console/runs")).text
        assert "1 run archived." in listed and "finished one" not in listed
        archived = (await client.get("/console/runs", params={"archived": "true"})).text
        assert "finished one" in archived

        r = await client.post(
            "/console/runs/bulk",
            data={"action": "delete", "run_ids": [done["id"], going["id"]], "csrf": token},
        )
        notice = (await client.get(r.headers["location"])).text
        assert "1 run deleted" in notice
        assert going["id"] in notice and "cancel it first" in notice
        forged = await client.post(
            "/console/runs/bulk", data={"action": "delete", "run_ids": [going["id"]], "csrf": "x"}
        )
        assert forged.status_code == 403


async def test_duplicate_starts_a_new_run_and_statuses_stream(app: FastAPI, rt: Runtime) -> None:
    async with console(app, rt) as (client, key):
        run = await make_run(app, key, "echo", "copy me")
        token = csrf_of((await client.get("/console/runs")).text)
        listed = (await client.get("/console/runs")).text
        assert f'formaction="/console/runs/{run["id"]}/duplicate"' in listed
        r = await client.post(f"/console/runs/{run['id']}/duplicate", data={"csrf": token})
        assert r.status_code == 303 and re.match(r"^/console/runs/run_\w+$", r.headers["location"])
        assert r.headers["location"] != f"/console/runs/{run['id']}"
        async with client.stream("GET", "/console/runs-statuses", params={"ids": run["id"]}) as s:
            body = (await s.aread()).decode()
        assert "event: status" in body and '"succeeded"' in body and "event: done" in body


@pytest.mark.parametrize("path", ["/console/nowhere", "/console/runs/run_doesnotexist/duplicate"])
async def test_unknown_pages_are_404_pages(app: FastAPI, rt: Runtime, path: str) -> None:
    async with console(app, rt) as (client, _):
        r = await client.get(path)
        assert r.status_code in (404, 405) and "<html" in r.text
