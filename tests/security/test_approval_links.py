"""Finding 5 and who may decide: approval links stay with the keys allowed to decide.

Each test performs the attack over HTTP: a member or viewer key of the tenant reads
everything it may read (events, the SSE stream, approvals, console pages) looking for a
link; keys that may not decide try to decide or to handle links; an approver decides a
run it started; a revoked link is used. Each must fail with nothing changed or leaked.
"""

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from fastapi import FastAPI

from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.testing.console import sign_in
from runplane.testing.webhooks import WebhookReceiver

BASE = "http://runplane.test"
NOTES = {"calls": [{"tool": "read_notes", "arguments": {"day": "Monday"}}]}
ERROR_KEYS = {"status_code", "message", "details"}


class Key:
    """A key of a tenant: an API client, the key itself and its id."""

    def __init__(self, client: httpx.AsyncClient, key: str, key_id: str) -> None:
        self.client, self.key, self.id = client, key, key_id


MakeKey = Callable[[str, str], Awaitable[Key]]


@pytest.fixture
async def make_key(app: FastAPI, rt: Runtime) -> AsyncIterator[MakeKey]:
    """Keys of a given role in a given tenant (by name), each with its own client."""
    clients: list[httpx.AsyncClient] = []

    async def make(tenant: str, role: str) -> Key:
        key = await auth.create_key(rt.db, tenant, None, role)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=BASE,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        clients.append(client)
        return Key(client, key, (await auth.authenticate(rt, key)).key_id)

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def tenant() -> str:
    return f"links-{uuid.uuid4().hex[:10]}"


async def until(api: httpx.AsyncClient, run_id: str, *statuses: str) -> dict[str, Any]:
    for _ in range(750):
        run = (await api.get(f"/v1/runs/{run_id}")).json()
        if run["status"] in statuses:
            return run
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} stayed {run['status']}, wanted {statuses}")


async def paused_run(starter: Key, **extra: Any) -> tuple[dict[str, Any], str]:
    """A run started by ``starter`` that waits on a tool call's approval, and that approval id."""
    body = {"agent_id": "call_tools", "input": NOTES, "approval": "ON_TOOL_CALL", **extra}
    r = await starter.client.post("/v1/runs", json=body)
    assert r.status_code == 201, r.text
    run = await until(starter.client, r.json()["id"], "paused")
    return run, run["waiting_on"]["approval_id"]


async def link_of(decider: Key, approval_id: str) -> str:
    """The approval's link as a key allowed to decide it is shown it."""
    approval = (await decider.client.get(f"/v1/approvals/{approval_id}")).json()
    assert approval["link"], approval
    return str(approval["link"])


def token_in(link: str) -> str:
    parts = urlparse(link)
    assert parts.query == "" and parts.path == "/console/approval-link", link
    return parts.fragment


async def still_pending(admin: Key, run_id: str, approval_id: str) -> None:
    approval = (await admin.client.get(f"/v1/approvals/{approval_id}")).json()
    assert approval["status"] == "pending" and approval["decided_at"] is None
    assert (await admin.client.get(f"/v1/runs/{run_id}")).json()["status"] == "paused"


def refused(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, r.text
    assert set(r.json()) == ERROR_KEYS and r.json()["status_code"] == status


@asynccontextmanager
async def signed_in(app: FastAPI, key: Key) -> AsyncIterator[httpx.AsyncClient]:
    """A console session (cookies kept) signed in with the key."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as browser:
        r = await sign_in(browser, key.key)
        assert r.status_code == 303, r.text
        yield browser


# -- the link is never shown to keys that may not decide -------------------------------


async def test_members_and_viewers_never_see_the_link(
    app: FastAPI, make_key: MakeKey, tenant: str
) -> None:
    admin = await make_key(tenant, "admin")
    run, approval_id = await paused_run(admin)
    token = token_in(await link_of(admin, approval_id))

    for role in ("member", "viewer"):
        reader = await make_key(tenant, role)
        seen: list[str] = []
        seen.append((await reader.client.get(f"/v1/runs/{run['id']}/events")).text)
        seen.append((await reader.client.get(f"/v1/approvals/{approval_id}")).text)
        seen.append((await reader.client.get("/v1/approvals")).text)
        seen.append((await reader.client.get(f"/v1/runs/{run['id']}")).text)
        async with signed_in(app, reader) as browser:
            seen.append((await browser.get(f"/console/runs/{run['id']}")).text)
            seen.append((await browser.get("/console/approvals")).text)
        approval = (await reader.client.get(f"/v1/approvals/{approval_id}")).json()
        assert approval["link"] is None and approval["link_expires_at"] is None
        required = [
            e
            for e in (await reader.client.get(f"/v1/runs/{run['id']}/events")).json()["items"]
            if e["type"] == "approval.required"
        ]
        assert required[0]["data"]["approval_id"] == approval_id
        assert "link" not in required[0]["data"]
        for text in seen:
            assert token not in text and "approval-link#" not in text

    # The run ends; its whole log, replayed over SSE, holds no link either.
    r = await admin.client.post(f"/v1/approvals/{approval_id}", json={"decision": "approve"})
    assert r.status_code == 200
    await until(admin.client, run["id"], "succeeded")
    member = await make_key(tenant, "member")
    stream = await member.client.get(f"/v1/runs/{run['id']}/stream")
    assert stream.status_code == 200 and "approval.required" in stream.text
    assert token not in stream.text and "approval-link#" not in stream.text
    assert (await admin.client.get(f"/v1/runs/{run['id']}/verify")).json()["ok"] is True


async def test_a_decider_sees_the_link_in_the_console(
    app: FastAPI, make_key: MakeKey, tenant: str
) -> None:
    admin = await make_key(tenant, "admin")
    _, approval_id = await paused_run(admin)
    link = await link_of(admin, approval_id)
    approver = await make_key(tenant, "approver")
    async with signed_in(app, approver) as browser:
        assert link in (await browser.get("/console/approvals")).text
    listed = (await approver.client.get("/v1/approvals")).json()["items"]
    assert [a["link"] for a in listed] == [link]


# -- who may decide ---------------------------------------------------------------------


async def test_members_and_viewers_may_not_decide_or_handle_links(
    app: FastAPI, make_key: MakeKey, tenant: str
) -> None:
    admin = await make_key(tenant, "admin")
    run, approval_id = await paused_run(admin)
    link = await link_of(admin, approval_id)
    for role in ("member", "viewer"):
        key = await make_key(tenant, role)
        body = {"decision": "approve"}
        refused(await key.client.post(f"/v1/approvals/{approval_id}", json=body), 403)
        refused(await key.client.post(f"/v1/approvals/{approval_id}/link"), 403)
        refused(await key.client.post(f"/v1/approvals/{approval_id}/link/revoke"), 403)
        async with signed_in(app, key) as browser:
            page = (await browser.get("/console/approvals")).text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert csrf is not None
            form = {"decision": "approve", "csrf": csrf.group(1)}
            r = await browser.post(f"/console/approvals/{approval_id}/decide", data=form)
            assert r.status_code == 303
            assert "Not done" in (await browser.get(r.headers["location"])).text
    await still_pending(admin, run["id"], approval_id)
    assert await link_of(admin, approval_id) == link  # neither revoked nor replaced


async def test_a_member_started_run_is_decided_by_an_approver(
    make_key: MakeKey, tenant: str
) -> None:
    member = await make_key(tenant, "member")
    run, approval_id = await paused_run(member)
    refused(
        await member.client.post(f"/v1/approvals/{approval_id}", json={"decision": "approve"}), 403
    )
    approver = await make_key(tenant, "approver")
    r = await approver.client.post(f"/v1/approvals/{approval_id}", json={"decision": "approve"})
    assert r.status_code == 200 and r.json()["decided_by_key_id"] == approver.id
    await until(approver.client, run["id"], "succeeded")


async def test_an_approver_may_not_decide_a_run_it_started(make_key: MakeKey, tenant: str) -> None:
    approver = await make_key(tenant, "approver")
    run, approval_id = await paused_run(approver)
    body = {"decision": "approve"}
    refused(await approver.client.post(f"/v1/approvals/{approval_id}", json=body), 403)
    refused(await approver.client.post(f"/v1/approvals/{approval_id}/link"), 403)
    refused(await approver.client.post(f"/v1/approvals/{approval_id}/link/revoke"), 403)
    # Nor is it handed the link, which would let it decide without its key.
    assert (await approver.client.get(f"/v1/approvals/{approval_id}")).json()["link"] is None
    listed = (await approver.client.get("/v1/approvals", params={"run_id": run["id"]})).json()
    assert [a["link"] for a in listed["items"]] == [None]
    admin = await make_key(tenant, "admin")
    await still_pending(admin, run["id"], approval_id)

    other = await make_key(tenant, "approver")
    r = await other.client.post(f"/v1/approvals/{approval_id}", json=body)
    assert r.status_code == 200 and r.json()["decided_by_key_id"] == other.id


async def test_self_approval_is_allowed_when_the_server_says_so(
    make_key: MakeKey, tenant: str, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rt.settings, "allow_self_approval", True)
    approver = await make_key(tenant, "approver")
    run, approval_id = await paused_run(approver)
    assert (await approver.client.get(f"/v1/approvals/{approval_id}")).json()["link"]
    r = await approver.client.post(f"/v1/approvals/{approval_id}", json={"decision": "approve"})
    assert r.status_code == 200 and r.json()["decided_by_key_id"] == approver.id
    await until(approver.client, run["id"], "succeeded")


async def test_an_admin_may_decide_a_run_it_started(make_key: MakeKey, tenant: str) -> None:
    admin = await make_key(tenant, "admin")
    run, approval_id = await paused_run(admin)
    r = await admin.client.post(f"/v1/approvals/{approval_id}", json={"decision": "approve"})
    assert r.status_code == 200 and r.json()["decided_by_key_id"] == admin.id


# -- links: in bodies only, revocable ---------------------------------------------------


async def test_a_link_token_in_a_query_string_decides_nothing(
    make_key: MakeKey, tenant: str, anonymous: httpx.AsyncClient
) -> None:
    admin = await make_key(tenant, "admin")
    run, approval_id = await paused_run(admin)
    token = token_in(await link_of(admin, approval_id))
    as_query = {"token": token}
    r = await anonymous.post("/v1/runs/approval", params=as_query, json={"decision": "approve"})
    assert r.status_code == 422 and set(r.json()) == ERROR_KEYS
    # The old ``GET /v1/runs/approval?token=`` is gone: the path is just a run id now.
    refused(await admin.client.get("/v1/runs/approval", params=as_query), 404)
    await still_pending(admin, run["id"], approval_id)
    page = await anonymous.get("/console/approval-link")
    assert page.status_code == 200 and page.headers["referrer-policy"] == "no-referrer"


async def test_a_revoked_link_is_gone_and_the_approval_stays_pending(
    make_key: MakeKey, tenant: str, anonymous: httpx.AsyncClient
) -> None:
    admin = await make_key(tenant, "admin")
    run, approval_id = await paused_run(admin)
    old = token_in(await link_of(admin, approval_id))
    approver = await make_key(tenant, "approver")
    revoked = await approver.client.post(f"/v1/approvals/{approval_id}/link/revoke")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["link"] is None and revoked.json()["link_revoked_at"]
    body = {"token": old, "decision": "approve"}
    refused(await anonymous.post("/v1/runs/approval", json=body), 410)
    refused(await anonymous.post("/v1/runs/approval/view", json={"token": old}), 410)
    await still_pending(admin, run["id"], approval_id)
    assert (await admin.client.get(f"/v1/approvals/{approval_id}")).json()["link"] is None

    # A new link, shown once to the key that asked; it replaces any earlier one.
    first = await approver.client.post(f"/v1/approvals/{approval_id}/link")
    assert first.status_code == 200 and first.json()["approval_id"] == approval_id
    second = (await approver.client.post(f"/v1/approvals/{approval_id}/link")).json()
    assert token_in(second["link"]) == second["token"] != first.json()["token"]
    for gone in (old, first.json()["token"]):
        refused(await anonymous.post("/v1/runs/approval", json={**body, "token": gone}), 410)
    await still_pending(admin, run["id"], approval_id)
    r = await anonymous.post("/v1/runs/approval", json={**body, "token": second["token"]})
    assert r.status_code == 200 and r.json()["status"] == "approved"
    await until(admin.client, run["id"], "succeeded")


# -- a decision records who decided and how ---------------------------------------------


async def resolved_event(key: Key, run_id: str) -> dict[str, Any]:
    items = (await key.client.get(f"/v1/runs/{run_id}/events")).json()["items"]
    (event,) = [e for e in items if e["type"] == "approval.resolved"]
    return dict(event["data"])


async def test_a_decision_records_who_decided_and_how(
    app: FastAPI, make_key: MakeKey, tenant: str, anonymous: httpx.AsyncClient
) -> None:
    admin = await make_key(tenant, "admin")
    approver = await make_key(tenant, "approver")

    run, approval_id = await paused_run(admin)
    r = await approver.client.post(f"/v1/approvals/{approval_id}", json={"decision": "approve"})
    assert (r.json()["decided_via"], r.json()["decided_by_key_id"]) == ("api", approver.id)
    event = await resolved_event(admin, run["id"])
    assert (event["decided_via"], event["decided_by_key_id"]) == ("api", approver.id)

    run, approval_id = await paused_run(admin)
    async with signed_in(app, approver) as browser:
        page = (await browser.get("/console/approvals")).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf is not None
        r = await browser.post(
            f"/console/approvals/{approval_id}/decide",
            data={"decision": "approve", "csrf": csrf.group(1)},
        )
        assert r.status_code == 303
    decided = (await admin.client.get(f"/v1/approvals/{approval_id}")).json()
    assert (decided["decided_via"], decided["decided_by_key_id"]) == ("console", approver.id)
    event = await resolved_event(admin, run["id"])
    assert (event["decided_via"], event["decided_by_key_id"]) == ("console", approver.id)

    run, approval_id = await paused_run(admin)
    token = token_in(await link_of(admin, approval_id))
    r = await anonymous.post("/v1/runs/approval", json={"token": token, "decision": "reject"})
    assert (r.json()["decided_via"], r.json()["decided_by_key_id"]) == ("link", None)
    event = await resolved_event(admin, run["id"])
    assert (event["decided_via"], event["decided_by_key_id"]) == ("link", None)
    assert token not in json.dumps(event)
    # The rejected run goes on writing its log: check the chain once it has ended.
    await until(admin.client, run["id"], "succeeded", "failed", "canceled")
    assert (await admin.client.get(f"/v1/runs/{run['id']}/verify")).json()["ok"] is True


# -- webhooks ---------------------------------------------------------------------------


@pytest.fixture
def webhook(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local webhook receiver the app (and only it) may call; its URL and the requests."""
    with WebhookReceiver() as receiver:
        monkeypatch.setattr(rt.settings, "outbound_allow", [receiver.allow_entry])
        yield receiver.url, receiver.received


async def announced(received: list[dict[str, Any]], approval_id: str) -> dict[str, Any]:
    for _ in range(250):
        for body in [r["body"] for r in list(received)]:
            if body.get("approval", {}).get("approval_id") == approval_id:
                return body
        await asyncio.sleep(0.02)
    raise AssertionError(f"no webhook call for {approval_id}")


async def test_a_members_webhook_gets_no_link_to_decide_its_own_run(
    make_key: MakeKey, tenant: str, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    member = await make_key(tenant, "member")
    _, approval_id = await paused_run(member, notify={"webhook": url})
    body = await announced(received, approval_id)
    assert "link" not in body["approval"] and "approval-link" not in json.dumps(body)

    admin = await make_key(tenant, "admin")
    _, approval_id = await paused_run(admin, notify={"webhook": url})
    body = await announced(received, approval_id)
    assert body["approval"]["link"] == await link_of(admin, approval_id)
