"""toolregistry.ai Runs at ``/toolregistry/v1``: the document's lifecycle, over HTTP.

A client of toolregistry changes only its base URL and ``x-api-key``: intent runs with
``NONE``, ``ON_START`` and ``ON_TOOL_CALL`` approvals decided through the token links,
``AUTH_REQUIRED`` with the auth link in the stream, ``DELETE`` to abort, the SSE event
names the document lists, and customer integrations as the runs' allow-list.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from runplane.domain.ids import from_uuid_form, uuid_form
from runplane.services import auth
from runplane.services.runtime import Runtime

Client = httpx.AsyncClient
DEMO = "email the team the notes from Monday"
SEED_EVENTS = {
    "status",
    "step.started",
    "step.completed",
    "approval.required",
    "approval.resolved",
    "result",
    "error",
}
TERMINAL = {"SUCCESS", "FAILED", "CANCELED"}


@pytest.fixture
async def tenant(app: FastAPI, rt: Runtime) -> AsyncIterator[Callable[[str], Awaitable[Client]]]:
    """Clients of one new tenant, by role, sending their key as ``x-api-key``."""
    name = f"tr-{uuid.uuid4().hex[:10]}"
    clients: list[Client] = []

    async def client(role: str = "admin") -> Client:
        key = await auth.create_key(rt.db, name, None, role)
        c = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://runplane.test",
            headers={"x-api-key": key},
            timeout=30,
        )
        clients.append(c)
        return c

    yield client
    for c in clients:
        await c.aclose()


@pytest.fixture
async def tr(tenant: Callable[[str], Awaitable[Client]]) -> Client:
    """An admin client of a fresh tenant, at toolregistry's base URL."""
    client = await tenant("admin")
    client.base_url = httpx.URL("http://runplane.test/toolregistry/v1")
    return client


def native(client: Client) -> Client:
    """The same key at runplane's own API."""
    return httpx.AsyncClient(
        transport=client._transport,
        base_url="http://runplane.test",
        headers={"x-api-key": client.headers["x-api-key"]},
        timeout=30,
    )


async def create(tr: Client, intent: str, **extra: Any) -> dict[str, Any]:
    body = {
        "intent": intent,
        "context": {},
        "userId": "alice",
        "selectedCustomerIntegrationIds": ["*"],
        **extra,
    }
    r = await tr.post("/runs", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def until(tr: Client, run_id: str, *statuses: str, timeout: float = 20) -> dict[str, Any]:
    """The run (a RunDto) once its status is one of ``statuses``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        run = (await tr.get(f"/runs/{run_id}", params={"includeEvents": "false"})).json()
        if run["status"] in statuses:
            return run
        assert loop.time() < deadline, f"run stayed {run['status']}, wanted {statuses}"
        await asyncio.sleep(0.02)


async def follow(client: Client, url: str) -> int:
    """Call an approval link as a person would: POST the URL it gives."""
    link = httpx.URL(url)
    r = await client.post(link.path, params=dict(link.params))
    return r.status_code


def parse_sse(text: str) -> list[dict[str, Any]]:
    """``id``/``event``/``data`` messages; comments (keep-alives) are skipped."""
    messages = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line.startswith(":") or not line:
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "event" in fields:
            data = json.loads(fields["data"])
            messages.append({"id": int(fields["id"]), "event": fields["event"], "data": data})
    return messages


async def sse(tr: Client, run_id: str, **headers: str) -> list[dict[str, Any]]:
    r = await tr.get(f"/runs/{run_id}/sse", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return parse_sse(r.text)


# -- the lifecycle ----------------------------------------------------------------------


async def test_a_none_run_ends_in_success_with_its_result_and_finished_steps(tr: Client) -> None:
    created = await create(
        tr, "schedule a design review", context={"day": "Wednesday", "time": "15:00"}
    )
    assert uuid.UUID(created["runId"]) and created["status"] in ("RUNNING", "QUEUED", "SUCCESS")
    assert created["plan"]["planType"] == "json"
    assert [s["tool"] for s in created["plan"]["plan"]["steps"]] == ["create_event"]

    done = await until(tr, created["runId"], *TERMINAL)
    assert done["status"] == "SUCCESS"
    (event,) = done["result"]["results"]
    assert event["output"]["day"] == "Wednesday" and event["output"]["time"] == "15:00"
    assert [s["name"] for s in done["stepsFinished"]] == ["plan", "create_event"]
    assert all(s["status"] == "completed" for s in done["stepsFinished"])
    assert done["intent"] == "schedule a design review"
    assert done["context"] == {"day": "Wednesday", "time": "15:00"}


async def test_on_start_pauses_with_the_plan_until_the_token_link_approves_it(
    tr: Client, anonymous: Client
) -> None:
    created = await create(tr, "read the notes from Monday", approvalStrategy="ON_START")
    assert created["status"] == "PAUSED"
    assert created["plan"]["planType"] == "json"
    assert [s["tool"] for s in created["plan"]["plan"]["steps"]] == ["read_notes"]
    actions = {a["action"]: a["url"] for a in created["approvalActions"]}
    assert set(actions) == {"approve", "deny"}
    link = httpx.URL(actions["approve"])
    assert link.path == "/toolregistry/v1/runs/approval"

    # GET /v1/runs/approval?token=...: what the link asks; looking uses nothing up.
    r = await anonymous.get(link.path, params={"token": link.params["token"]})
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["runId"] == created["runId"] and view["status"] == "PENDING"
    assert view["kind"] == "plan" and view["request"]["plan"]["format"] == "json"

    assert await follow(anonymous, actions["approve"]) == 204
    done = await until(tr, created["runId"], *TERMINAL)
    assert done["status"] == "SUCCESS"
    assert [s["name"] for s in done["stepsFinished"]] == ["plan", "read_notes"]
    # A link is single-use.
    assert await follow(anonymous, actions["approve"]) == 409
    resolved = [e for e in (await tr.get(f"/runs/{created['runId']}")).json()["events"]]
    decisions = [e["data"]["approval"] for e in resolved if e["event"] == "approval.resolved"]
    assert decisions[0]["decision"] == "APPROVED" and decisions[0]["decidedVia"] == "link"


async def test_denying_the_plan_cancels_the_run(tr: Client, anonymous: Client) -> None:
    created = await create(tr, "read the notes from Monday", approvalStrategy="ON_START")
    deny = next(a["url"] for a in created["approvalActions"] if a["action"] == "deny")
    assert await follow(anonymous, deny) == 204
    assert (await until(tr, created["runId"], *TERMINAL))["status"] == "CANCELED"


async def test_auth_required_shows_the_auth_link_in_the_stream_and_goes_on_once_connected(
    tr: Client,
) -> None:
    created = await create(tr, DEMO, userId="carol")
    waiting = await until(tr, created["runId"], "AUTH_REQUIRED")
    assert waiting["auth"]["integrationName"] == "email"
    assert waiting["auth"]["userId"] == "carol"
    connect = httpx.URL(waiting["auth"]["url"])
    assert connect.path == "/v1/users/carol/connections/email"

    # A client follows the stream while the run waits; the user connects meanwhile.
    stream = asyncio.create_task(sse(tr, created["runId"]))
    await asyncio.sleep(0.2)
    assert not stream.done()
    async with native(tr) as api:
        r = await api.put(connect.path, json={"secret": "carol-secret-4321"})
    assert r.status_code == 200 and r.json()["resumed_runs"]
    messages = await asyncio.wait_for(stream, 20)

    names = [m["event"] for m in messages]
    assert set(names) <= SEED_EVENTS | {"auth.required"}
    (asked,) = [m for m in messages if m["event"] == "auth.required"]
    assert asked["data"]["auth"]["url"] == waiting["auth"]["url"]
    assert asked["data"]["runStatus"] == "AUTH_REQUIRED"
    statuses = [m["data"]["status"] for m in messages if m["event"] == "status"]
    assert statuses[-3:] == ["AUTH_REQUIRED", "RUNNING", "SUCCESS"]
    waited = next(m for m in messages if m["data"].get("status") == "AUTH_REQUIRED")
    assert waited["data"]["auth"]["url"] == waiting["auth"]["url"]
    assert [m["id"] for m in messages] == sorted(m["id"] for m in messages)

    done = await until(tr, created["runId"], *TERMINAL)
    sent = done["result"]["results"][1]["output"]
    assert sent["status"] == "sent" and sent["sender"] == "carol"
    assert done["auth"] is None


async def test_on_tool_call_asks_before_each_call_and_the_token_links_approve(
    tr: Client, anonymous: Client
) -> None:
    async with native(tr) as api:
        await api.put("/v1/users/bob/connections/email", json={"secret": "bob-secret-0000"})
    created = await create(tr, DEMO, userId="bob", approvalStrategy="ON_TOOL_CALL")
    assert created["plan"]["planType"] == "json"
    asked = []
    for _ in range(2):
        paused = await until(tr, created["runId"], "PAUSED")
        run = (await tr.get(f"/runs/{created['runId']}")).json()
        required = [e for e in run["events"] if e["event"] == "approval.required"][-1]
        asked.append(required["data"]["approval"]["request"]["tool"])
        assert required["data"]["runStatus"] == "PAUSED"
        approve = next(a["url"] for a in paused["approvalActions"] if a["action"] == "approve")
        assert approve == required["data"]["approvalActions"][0]["url"]
        assert await follow(anonymous, approve) == 204
    assert asked == ["read_notes", "send_email"]
    done = await until(tr, created["runId"], *TERMINAL)
    assert done["status"] == "SUCCESS"
    assert done["result"]["results"][1]["output"]["status"] == "sent"


async def test_delete_aborts_a_waiting_run_and_a_finished_one_is_a_conflict(tr: Client) -> None:
    created = await create(tr, "read the notes from Monday", approvalStrategy="ON_START")
    r = await tr.delete(f"/runs/{created['runId']}")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "CANCELED"
    again = await tr.delete(f"/runs/{created['runId']}")
    assert again.status_code == 409
    body = again.json()
    assert body["statusCode"] == 409 and body["error"] == "Conflict"
    assert "already ended" in body["message"]


async def test_the_stream_uses_the_documents_event_names_and_resumes_after_last_event_id(
    tr: Client,
) -> None:
    created = await create(tr, "read the notes from Monday")
    await until(tr, created["runId"], *TERMINAL)
    messages = await sse(tr, created["runId"])
    names = [m["event"] for m in messages]
    assert set(names) <= SEED_EVENTS
    assert {"status", "step.started", "step.completed", "result"} <= set(names)
    assert names[-1] == "status" and messages[-1]["data"]["status"] == "SUCCESS"
    for m in messages:
        assert m["data"]["runId"] == created["runId"]
        assert {"runStatus", "timestamp"} <= set(m["data"])
    (result,) = [m for m in messages if m["event"] == "result"]
    assert result["data"]["result"]["results"][0]["tool"] == "read_notes"

    resumed = await sse(tr, created["runId"], **{"Last-Event-ID": str(messages[2]["id"])})
    assert resumed == messages[3:]


# -- customer integrations --------------------------------------------------------------


async def test_customer_integrations_are_installed_deactivated_and_listed(
    tr: Client, tenant: Callable[[str], Awaitable[Client]]
) -> None:
    async with native(tr) as api:
        r = await api.post(
            "/v1/customer-integrations",
            json={
                "integration": "calendar",
                "name": "Team calendar",
                "settings": {"host": "cal.example"},
            },
        )
        assert r.status_code == 201, r.text
        calendar = r.json()
        assert calendar["id"].startswith("calendar_") and calendar["active"] is True
        notes = (await api.post("/v1/customer-integrations", json={"integration": "notes"})).json()
        r = await api.patch(f"/v1/customer-integrations/{notes['id']}", json={"active": False})
        assert r.status_code == 200 and r.json()["active"] is False
        inactive = (await api.get("/v1/customer-integrations", params={"active": "false"})).json()
        assert [i["id"] for i in inactive["items"]] == [notes["id"]]
        unknown = await api.post("/v1/customer-integrations", json={"integration": "fax"})
        assert unknown.status_code == 422 and "fax" in unknown.json()["message"]

    member = await tenant("member")
    refused = await member.post("/v1/customer-integrations", json={"integration": "notes"})
    assert refused.status_code == 403
    listed = await member.get("/v1/customer-integrations")
    assert len(listed.json()["items"]) == 2

    active = (await tr.get("/integrations")).json()
    assert active == [
        {
            "integrationId": "calendar",
            "customerIntegrationId": calendar["id"],
            "active": True,
            "name": "Team calendar",
            "host": "cal.example",
            "createdAt": active[0]["createdAt"],
            "updatedAt": active[0]["updatedAt"],
            "description": None,
        }
    ]
    off = (await tr.get("/integrations", params={"active": "false"})).json()
    assert [i["customerIntegrationId"] for i in off] == [notes["id"]]


async def test_a_run_naming_an_inactive_or_unknown_integration_is_refused(tr: Client) -> None:
    async with native(tr) as api:
        notes = (await api.post("/v1/customer-integrations", json={"integration": "notes"})).json()
        await api.patch(f"/v1/customer-integrations/{notes['id']}", json={"active": False})
    body = {"intent": "read the notes from Monday", "userId": "alice"}

    r = await tr.post("/runs", json={**body, "selectedCustomerIntegrationIds": [notes["id"]]})
    assert r.status_code == 400
    assert r.json()["message"] == f"customer integration {notes['id']!r} is not active"
    assert r.json()["error"] == "Bad Request"

    r = await tr.post("/runs", json={**body, "selectedCustomerIntegrationIds": ["crm_0000"]})
    assert r.status_code == 400
    assert "'crm_0000'" in r.json()["message"] and notes["id"] in r.json()["message"]


async def test_star_means_the_active_installed_integrations(tr: Client) -> None:
    async with native(tr) as api:
        notes = (await api.post("/v1/customer-integrations", json={"integration": "notes"})).json()
        await api.post("/v1/customer-integrations", json={"integration": "email", "active": False})
        created = await create(tr, DEMO, selectedCustomerIntegrationIds="*")
        run = (await api.get(f"/v1/runs/{from_uuid_form(created['runId'], 'run')}")).json()
        assert run["integrations"] == ["notes"]
        # Named by id, the installed integration gives the run its catalog name.
        by_id = await create(tr, DEMO, selectedCustomerIntegrationIds=[notes["id"]])
        run = (await api.get(f"/v1/runs/{from_uuid_form(by_id['runId'], 'run')}")).json()
        assert run["integrations"] == ["notes"]
    # The email step is not planned: email is installed, but not active.
    assert [s["tool"] for s in created["plan"]["plan"]["steps"]] == ["read_notes"]


# -- one run, every surface -------------------------------------------------------------


async def test_runs_are_the_same_here_and_in_the_native_api(tr: Client) -> None:
    created = await create(tr, "read the notes from Monday")
    run_id = from_uuid_form(created["runId"], "run")
    async with native(tr) as api:
        r = await api.get(f"/v1/runs/{run_id}")
        assert r.status_code == 200 and r.json()["agent_name"] == "intent"
        assert r.json()["input"] == {"intent": "read the notes from Monday"}
        r = await api.post(
            "/v1/runs",
            json={"agent_id": "intent", "input": {"intent": "read the notes from Tuesday"}},
        )
        native_run = r.json()
    here = (await tr.get(f"/runs/{uuid_form(native_run['id'], 'run')}")).json()
    assert here["intent"] == "read the notes from Tuesday"
    await until(tr, here["runId"], *TERMINAL)
    listed = (await tr.get("/runs", params={"pageSize": 1})).json()
    assert listed["runs"][0]["runId"] == here["runId"]
    assert listed["pagination"]["hasMore"] is True
    token = listed["pagination"]["continuationToken"]
    second = (await tr.get("/runs", params={"pageSize": 1, "continuationToken": token})).json()
    assert second["runs"][0]["runId"] == created["runId"]
    done = (await tr.get("/runs", params={"status": "SUCCESS"})).json()["runs"]
    assert here["runId"] in [r["runId"] for r in done]


async def test_errors_are_in_nestjs_shape(tr: Client, anonymous: Client) -> None:
    r = await tr.get("/runs/not-a-uuid")
    assert r.status_code == 404 and r.json()["error"] == "Not Found"
    r = await tr.get(f"/runs/{uuid.uuid4()}")
    assert r.status_code == 404 and r.json()["statusCode"] == 404
    r = await tr.post("/runs", json={"intent": "x"})
    assert r.status_code == 400
    assert r.json()["message"].startswith("selectedCustomerIntegrationIds")
    r = await anonymous.get("/toolregistry/v1/runs")
    assert r.status_code == 401 and r.json()["error"] == "Unauthorized"
    r = await anonymous.get("/toolregistry/v1/runs/approval", params={"token": "forged"})
    assert r.status_code == 400 and r.json()["statusCode"] == 400


async def test_hidden_context_reaches_admin_keys_only(
    tr: Client, tenant: Callable[[str], Awaitable[Client]]
) -> None:
    created = await create(tr, "read the notes from Monday", context={"team": "core"})
    member = await tenant("member")
    member.base_url = httpx.URL("http://runplane.test/toolregistry/v1")
    assert (await tr.get(f"/runs/{created['runId']}")).json()["context"] == {"team": "core"}
    assert (await member.get(f"/runs/{created['runId']}")).json()["context"] is None
    listed = (await member.get("/runs")).json()["runs"]
    assert listed[0]["context"] is None
