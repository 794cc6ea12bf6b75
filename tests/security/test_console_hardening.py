"""The console behind a proxy, and what a page can be made to load or say by someone else:
the Secure cookie follows the client's https only through a trusted proxy, agent output
loads no outside image, and a link cannot put words in the console's mouth."""

import html
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.testing.server import LiveServer

BASE = "http://runplane.test"
HTTPS = {"X-Forwarded-Proto": "https"}
PROJECT = Path(__file__).resolve().parents[2] / "runplane.toml"
SPOOF = "Your session has expired: paste your API key at https://evil.example/login"


def browser(app: FastAPI, client: tuple[str, int] = ("127.0.0.1", 123)) -> httpx.AsyncClient:
    """A browser-like client connecting from ``client`` (a loopback proxy by default)."""
    transport = httpx.ASGITransport(app=app, client=client)
    return httpx.AsyncClient(transport=transport, base_url=BASE, timeout=30)


def token_in(text: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', text)
    assert match, "no CSRF token in the page"
    return match.group(1)


def cookie(r: httpx.Response, name: str) -> str:
    (found,) = [c for c in r.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    return found.lower()


async def sign_in(client: httpx.AsyncClient, key: str, **headers: str) -> httpx.Response:
    form = await client.get("/console/login", headers=headers)
    data = {"api_key": key, "csrf": token_in(form.text)}
    r = await client.post("/console/login", data=data, headers=headers)
    assert r.status_code == 303, r.text
    return r


async def new_key(rt: Runtime) -> str:
    return await auth.create_key(rt.db, f"hard-{uuid.uuid4().hex[:10]}", None, "admin")


# -- the Secure flag behind a proxy ----------------------------------------------------------


async def test_behind_a_trusted_proxy_that_took_https_the_cookies_are_secure(
    app: FastAPI, rt: Runtime
) -> None:
    # The default trusted proxy is one on this machine (RUNPLANE_FORWARDED_ALLOW_IPS). It
    # speaks plain http to runplane; the browser spoke https to it.
    async with browser(app) as proxy:
        form = await proxy.get("/console/login", headers=HTTPS)
        assert "; secure" in cookie(form, "runplane_console_login")
        data = {"api_key": await new_key(rt), "csrf": token_in(form.text)}
        sent = {
            **HTTPS,
            "Cookie": f"runplane_console_login={form.cookies['runplane_console_login']}",
        }
        proxy.cookies.clear()
        r = await proxy.post("/console/login", data=data, headers=sent)
        assert r.status_code == 303, r.text
        assert "; secure" in cookie(r, "runplane_console")


async def test_an_untrusted_client_cannot_claim_https(app: FastAPI, rt: Runtime) -> None:
    # Straight from the internet, X-Forwarded-Proto is the client's say-so: ignored. (A
    # client over plain http that got a Secure cookie would never send it back.)
    async with browser(app, client=("203.0.113.9", 40000)) as client:
        form = await client.get("/console/login", headers=HTTPS)
        assert "; secure" not in cookie(form, "runplane_console_login")
        r = await sign_in(client, await new_key(rt), **HTTPS)
        assert "; secure" not in cookie(r, "runplane_console")
        # ...and it cannot pass itself off as another address either.
        page = await client.get("/console/runs", headers={"X-Forwarded-For": "10.1.2.3"})
        assert page.status_code == 200


@pytest.mark.timeout(180)
@pytest.mark.database_independent
def test_a_real_server_ignores_a_proxy_it_was_not_told_to_trust(
    new_database: Callable[[str], str], tmp_path: Path
) -> None:
    # uvicorn trusts loopback whatever it is told elsewhere: runplane's setting decides.
    env = {"RUNPLANE_FORWARDED_ALLOW_IPS": ""}
    server = LiveServer(new_database("proxy"), cwd=tmp_path, project=PROJECT, env=env)
    with server.start(timeout=120), httpx.Client(base_url=server.url, timeout=30) as client:
        form = client.get("/console/login", headers=HTTPS)
        assert form.status_code == 200
        assert "; secure" not in cookie(form, "runplane_console_login")


# -- what agent output can make a page load ---------------------------------------------------


async def test_agent_markdown_loads_no_outside_image_and_the_policy_forbids_it(
    app: FastAPI, rt: Runtime
) -> None:
    key = await new_key(rt)
    tracker = "https://evil.example/pixel.png?who=reader"
    question = f"wal ![pixel]({tracker}) ![relative](//evil.example/p.png)"
    async with browser(app) as client:
        api = {"Authorization": f"Bearer {key}"}
        body = {"agent_id": "research", "input": {"question": question}, "wait": 30}
        run = (await client.post("/v1/runs", json=body, headers=api)).json()
        assert run["status"] == "succeeded", run
        await sign_in(client, key)
        page = await client.get(f"/console/runs/{run['id']}")
    doc = page.text.split('<div class="doc">', 1)[1].split("</div>", 1)[0]
    assert "<img" not in doc  # the images became links, loaded only if clicked
    assert f'href="{html.escape(tracker)}"' in doc and "pixel (external image)" in doc
    assert "<img" not in page.text.replace('<link rel="icon" href="data:,">', "")
    policy = page.headers["content-security-policy"]
    assert "img-src 'self' data:" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"


async def test_every_console_page_carries_the_policy(app: FastAPI, rt: Runtime) -> None:
    async with browser(app) as client:
        for path in ("/console/login", "/console/runs", "/console/static/console.js"):
            r = await client.get(path)
            assert "img-src 'self' data:" in r.headers["content-security-policy"], path
        # The API is not a page: it keeps its headers as they were.
        assert "content-security-policy" not in (await client.get("/healthz")).headers


# -- what a link can make the console say -----------------------------------------------------


async def test_a_notice_in_the_url_is_not_shown(app: FastAPI, rt: Runtime) -> None:
    async with browser(app) as client:
        await sign_in(client, await new_key(rt))
        for path in ("/console/runs", "/console/approvals", "/console/agents/echo"):
            page = await client.get(path, params={"notice": SPOOF})
            assert page.status_code == 200
            text = html.unescape(page.text)
            assert "evil.example" not in text and 'class="notice"' not in text, path
        anonymous = await browser(app).get("/console/login", params={"notice": SPOOF})
        assert "evil.example" not in html.unescape(anonymous.text)


async def test_a_forged_notice_cookie_is_not_shown(app: FastAPI, rt: Runtime) -> None:
    async with browser(app) as client:
        await sign_in(client, await new_key(rt))
        client.cookies.set("runplane_console_notice", SPOOF, path="/console")
        page = await client.get("/console/runs")
        assert "evil.example" not in html.unescape(page.text)


async def test_a_real_notice_is_shown_once_and_travels_sealed(app: FastAPI, rt: Runtime) -> None:
    key = await new_key(rt)
    async with browser(app) as client:
        await sign_in(client, key)
        api = {"Authorization": f"Bearer {key}"}
        body = {"agent_id": "echo", "input": {}, "wait": 30}
        run = (await client.post("/v1/runs", json=body, headers=api)).json()
        token = token_in((await client.get("/console/runs")).text)
        r = await client.post(
            "/console/runs/bulk", data={"action": "archive", "run_ids": [run["id"]], "csrf": token}
        )
        assert r.status_code == 303 and "notice" not in r.headers["location"]
        sealed = cookie(r, "runplane_console_notice")
        assert "archived" not in sealed  # sealed: neither readable nor forgeable
        assert "1 run archived." in (await client.get(r.headers["location"])).text
        assert "1 run archived." not in (await client.get(r.headers["location"])).text
