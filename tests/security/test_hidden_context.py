"""Hidden ``context``: an admin key sets it; a member key never sees its values on any surface
(native API, Agent Protocol JSON, SSE streams, console pages), and webhooks never carry it."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from rolekeys import Team, team_of

from runplane.services.runtime import Runtime
from runplane.testing.console import sign_in
from runplane.testing.webhooks import WebhookReceiver


@pytest.fixture
async def team(app: FastAPI, rt: Runtime) -> AsyncIterator[Team]:
    async with team_of(app, rt) as t:
        yield t


@pytest.fixture
def secret() -> str:
    """A value no response may contain unless the key is an admin's."""
    return f"ctx-secret-{uuid.uuid4().hex}"


@pytest.fixture
def receiver(team: Team, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    """A local webhook receiver that the app (and only it) is allowed to call."""
    with WebhookReceiver() as made:
        monkeypatch.setattr(team.rt.settings, "outbound_allow", [made.allow_entry])
        yield made


async def text_of(client: httpx.AsyncClient, method: str, path: str, **kwargs: object) -> str:
    r = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert r.status_code < 300, (method, path, r.status_code, r.text)
    return r.text


async def test_native_runs_hide_context_from_a_member_on_every_read(
    team: Team, secret: str
) -> None:
    admin, member = await team.role("admin"), await team.role("member")
    body = {"agent_id": "echo", "input": {"x": 1}, "context": {"token": secret}, "wait": 20}
    run = (await admin.post("/v1/runs", json=body)).json()
    assert run["context"] == {"token": secret}, "an admin key sees the context"
    rid = run["id"]

    for method, path in [
        ("GET", f"/v1/runs/{rid}"),
        ("GET", "/v1/runs"),
        ("GET", f"/v1/runs/{rid}/events"),
        ("GET", f"/v1/runs/{rid}/steps"),
        ("GET", f"/v1/runs/{rid}/stream"),
    ]:
        assert secret not in await text_of(member, method, path), path
    # A member's own copy of the run carries the context on without showing it.
    copy = (await member.post(f"/v1/runs/{rid}/duplicate", json={"wait": 20})).json()
    assert copy["context"] is None
    assert (await admin.get(f"/v1/runs/{copy['id']}")).json()["context"] == {"token": secret}


async def test_assistants_and_crons_hide_context_from_a_member(team: Team, secret: str) -> None:
    admin, member = await team.role("admin"), await team.role("member")
    made = await admin.post("/assistants", json={"graph_id": "lg_echo", "context": {"k": secret}})
    assert made.json()["context"] == {"k": secret}
    aid = made.json()["assistant_id"]
    await admin.patch(f"/assistants/{aid}", json={"name": "second"})
    cron = await admin.post(
        "/runs/crons",
        json={"assistant_id": aid, "schedule": "0 0 1 1 *", "context": {"c": secret}},
    )
    assert secret in cron.text

    member_views = [
        await text_of(member, "GET", f"/assistants/{aid}"),
        await text_of(member, "POST", "/assistants/search", json={}),
        await text_of(member, "POST", f"/assistants/{aid}/versions", json={}),
        await text_of(member, "POST", "/runs/crons/search", json={}),
        await text_of(member, "PATCH", f"/assistants/{aid}", json={"description": "by member"}),
    ]
    for view in member_views:
        assert secret not in view
    assert json.loads(member_views[0])["context"] == {}
    assert secret in await text_of(admin, "POST", "/runs/crons/search", json={})
    assert secret in await text_of(admin, "POST", f"/assistants/{aid}/versions", json={})


async def test_graph_runs_hide_context_from_a_member_in_json_and_streams(
    team: Team, secret: str
) -> None:
    admin, member = await team.role("admin"), await team.role("member")
    aid = (
        await admin.post("/assistants", json={"graph_id": "lg_echo", "context": {"a": secret}})
    ).json()["assistant_id"]
    tid = (await admin.post("/threads", json={})).json()["thread_id"]
    body = {"assistant_id": aid, "input": {"message": "hi"}, "context": {"b": secret}}
    done = await admin.post(f"/threads/{tid}/runs/wait", json=body)
    assert done.status_code == 200, done.text
    rid = done.headers["content-location"].rsplit("/", 1)[1]
    admin_view = (await admin.get(f"/threads/{tid}/runs/{rid}")).json()
    assert admin_view["kwargs"]["context"] == {"a": secret, "b": secret}

    for method, path, extra in [
        ("GET", f"/threads/{tid}/runs/{rid}", {}),
        ("GET", f"/threads/{tid}/runs", {}),
        ("GET", f"/threads/{tid}", {}),
        ("GET", f"/threads/{tid}/state", {}),
        ("POST", f"/threads/{tid}/history", {"json": {}}),
        ("GET", f"/threads/{tid}/runs/{rid}/join", {}),
        ("GET", f"/threads/{tid}/runs/{rid}/stream", {}),
        ("GET", f"/v1/runs/{rid}", {}),
        ("GET", f"/v1/runs/{rid}/events", {}),
        ("GET", f"/v1/runs/{rid}/stream", {}),
    ]:
        assert secret not in await text_of(member, method, path, **extra), path
    assert (await member.get(f"/threads/{tid}/runs/{rid}")).json()["kwargs"]["context"] is None

    # A member's own streamed run on the admin's assistant: every part, all modes.
    stream = await member.post(
        "/runs/stream",
        json={
            "assistant_id": aid,
            "input": {"message": "again"},
            "stream_mode": ["values", "updates", "messages", "debug", "custom", "events"],
        },
    )
    assert stream.status_code == 200 and "event: metadata" in stream.text
    assert secret not in stream.text
    created = await member.post("/runs", json={"assistant_id": aid, "input": {"message": "bg"}})
    assert created.status_code == 200 and secret not in created.text


async def test_console_pages_hide_context_from_a_member(team: Team, secret: str) -> None:
    admin = await team.role("admin")
    body = {"agent_id": "echo", "input": {}, "context": {"token": secret}, "wait": 20}
    run = (await admin.post("/v1/runs", json=body)).json()
    key = await team.key("member")
    browser = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=team.app), base_url="http://runplane.test", timeout=30
    )
    team._clients.append(browser)
    r = await sign_in(browser, key)
    assert r.status_code == 303
    for path in (
        f"/console/runs/{run['id']}",
        "/console/runs",
        f"/console/runs/{run['id']}/events",
    ):
        page = await browser.get(path)
        assert page.status_code == 200 and secret not in page.text, path


async def test_webhooks_never_carry_context(
    team: Team, secret: str, receiver: WebhookReceiver
) -> None:
    admin = await team.role("admin")
    native = {
        "agent_id": "echo",
        "input": {},
        "context": {"token": secret},
        "notify": {"webhook": receiver.url},
        "wait": 20,
    }
    assert (await admin.post("/v1/runs", json=native)).status_code == 201
    tid = (await admin.post("/threads", json={})).json()["thread_id"]
    graph = {
        "assistant_id": "lg_echo",
        "input": {"message": "hi"},
        "context": {"token": secret},
        "webhook": receiver.url,
    }
    assert (await admin.post(f"/threads/{tid}/runs/wait", json=graph)).status_code == 200

    deadline = time.monotonic() + 15
    while len(receiver.received) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)  # the app posts them from this event loop
    bodies = [r["raw"].decode() for r in receiver.received]
    assert len(bodies) == 2, bodies
    assert all(json.loads(b)["event"] == "run.finished" for b in bodies)
    assert not any(secret in b for b in bodies)
