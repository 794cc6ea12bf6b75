"""Cross-site requests against the console: every form that changes something needs the
token of a page this server gave the same browser, the sign-in form included."""

import asyncio
import re
import uuid

import httpx
from fastapi import FastAPI

from runplane.domain.ids import new_id
from runplane.domain.models import utcnow
from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.store import agents as agents_store

BASE = "http://runplane.test"
NOTES = {"calls": [{"tool": "read_notes", "arguments": {"day": "Monday"}}]}


def browser(app: FastAPI) -> httpx.AsyncClient:
    """A browser-like client: cookies kept, no API key."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, timeout=30)


def api(app: FastAPI, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def token_in(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, key: str) -> None:
    form = await client.get("/console/login")
    r = await client.post("/console/login", data={"api_key": key, "csrf": token_in(form.text)})
    assert r.status_code == 303, r.text


async def new_key(rt: Runtime, role: str = "admin") -> str:
    return await auth.create_key(rt.db, f"csrf-{uuid.uuid4().hex[:10]}", None, role)


def session_cookies(r: httpx.Response) -> list[str]:
    return [c for c in r.headers.get_list("set-cookie") if c.startswith("runplane_console=")]


async def test_a_sign_in_posted_from_another_site_is_refused(app: FastAPI, rt: Runtime) -> None:
    # The attacker's own, valid key, posted by the attacker's page from the victim's
    # browser: the victim would then work, unknowingly, in the attacker's tenant.
    attackers_key = await new_key(rt)
    async with browser(app) as victim:
        for form in (
            {"api_key": attackers_key},
            {"api_key": attackers_key, "csrf": ""},
            {"api_key": attackers_key, "csrf": "guessed"},
        ):
            r = await victim.post("/console/login", data=form)
            assert r.status_code == 403, r.text
            assert "did not come from this console" in r.text
            assert session_cookies(r) == []
        assert (await victim.get("/console/runs")).status_code == 303  # still signed out


async def test_a_sign_in_token_only_works_with_the_cookie_it_was_given_with(
    app: FastAPI, rt: Runtime
) -> None:
    attackers_key = await new_key(rt)
    async with browser(app) as attacker, browser(app) as victim:
        # The attacker fetches a genuine form, then has the victim's browser post its token.
        token = token_in((await attacker.get("/console/login")).text)
        await victim.get("/console/login")  # the victim has a sign-in cookie of its own
        r = await victim.post("/console/login", data={"api_key": attackers_key, "csrf": token})
        assert r.status_code == 403 and session_cookies(r) == []
        # A forged cookie does not help either.
        victim.cookies.set("runplane_console_login", "gAAAAA-forged", path="/console")
        r = await victim.post("/console/login", data={"api_key": attackers_key, "csrf": token})
        assert r.status_code == 403 and session_cookies(r) == []
        assert (await victim.get("/console/runs")).status_code == 303


async def test_the_sign_in_form_and_session_cookies_are_strict_and_httponly(
    app: FastAPI, rt: Runtime
) -> None:
    async with browser(app) as client:
        form = await client.get("/console/login")
        (login_cookie,) = form.headers.get_list("set-cookie")
        assert login_cookie.startswith("runplane_console_login=")
        for flag in ("httponly", "samesite=strict", "path=/console"):
            assert flag in login_cookie.lower()
        r = await client.post(
            "/console/login", data={"api_key": await new_key(rt), "csrf": token_in(form.text)}
        )
        (cookie,) = session_cookies(r)
        for flag in ("httponly", "samesite=strict", "path=/console"):
            assert flag in cookie.lower()


async def forms_on(client: httpx.AsyncClient, *pages: str) -> set[str]:
    """Where the POST forms (and buttons with their own target) of these pages post to."""
    found: set[str] = set()
    for page in pages:
        text = (await client.get(page)).text
        for form in re.finditer(r"<form\b[^>]*>", text):
            if 'method="post"' in form.group(0):
                found.add(re.search(r'action="([^"]+)"', form.group(0)).group(1))  # type: ignore[union-attr]
        found.update(re.findall(r'formaction="([^"]+)"', text))
    return found


async def test_every_console_form_refuses_a_missing_or_wrong_token_and_changes_nothing(
    app: FastAPI, rt: Runtime
) -> None:
    key = await new_key(rt)
    who = await auth.authenticate(rt, key)
    async with api(app, key) as client, browser(app) as victim:
        created = await client.post(
            "/v1/runs",
            json={"agent_id": "call_tools", "input": NOTES, "approval": "ON_TOOL_CALL"},
        )
        run = created.json()
        for _ in range(300):
            if (await client.get(f"/v1/runs/{run['id']}")).json()["status"] == "paused":
                break
            await asyncio.sleep(0.05)
        (approval,) = (
            await client.get("/v1/approvals", params={"run_id": run["id"], "status": "pending"})
        ).json()["items"]
        echo = (await client.get("/v1/agents/echo")).json()
        draft = new_id("rev")
        async with rt.db.write() as conn:
            await agents_store.insert_revision(
                conn,
                id=draft,
                tenant_id=who.tenant_id,
                agent_id=echo["id"],
                hash=uuid.uuid4().hex,
                stage="draft",
                config={"input_schema": {"type": "object"}},
                created_at=utcnow(),
            )
        before = (await client.get("/v1/runs", params={"limit": 100})).json()["items"]

        await sign_in(victim, key)
        # Every field any of the forms wants, so that only the token is missing.
        fields = {
            "decision": "approve",
            "action": "delete",
            "run_ids": [run["id"]],
            "comment": "posted by another site",
            "input": "{}",
        }
        # Every form the console shows, on the pages that show them.
        urls = await forms_on(
            victim,
            "/console/runs",
            f"/console/runs/{run['id']}",
            "/console/approvals",
            "/console/agents/echo",
        )
        assert {
            "/console/logout",
            "/console/runs/bulk",
            f"/console/runs/{run['id']}/cancel",
            f"/console/runs/{run['id']}/rerun",
            f"/console/runs/{run['id']}/duplicate",
            f"/console/runs/{run['id']}/approvals/{approval['id']}",
            f"/console/approvals/{approval['id']}/decide",
            f"/console/agents/echo/revisions/{draft}/publish",
            "/console/agents/echo/runs",
        } <= urls, urls
        for url in sorted(urls):
            for csrf in (None, "", "forged-token"):
                data = fields if csrf is None else {**fields, "csrf": csrf}
                r = await victim.post(url, data=data)
                assert r.status_code == 403, (url, csrf, r.status_code, r.text[:300])

        # Nothing changed: the run still waits on its approval, no run was made or
        # removed, the draft was not published, and the session was not ended.
        assert (await client.get(f"/v1/runs/{run['id']}")).json()["status"] == "paused"
        got = (await client.get(f"/v1/approvals/{approval['id']}")).json()
        assert got["status"] == "pending"
        after = (await client.get("/v1/runs", params={"limit": 100})).json()["items"]
        assert [r["id"] for r in after] == [r["id"] for r in before]
        assert (await client.get("/v1/agents/echo")).json()["published_revision_id"] == echo[
            "published_revision_id"
        ]
        assert (await victim.get("/console/runs")).status_code == 200
        # The same form with the page's token works: the refusals were the token's doing.
        token = token_in((await victim.get(f"/console/runs/{run['id']}")).text)
        r = await victim.post(f"/console/runs/{run['id']}/cancel", data={"csrf": token})
        assert r.status_code == 303
