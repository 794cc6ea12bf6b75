"""Who acted, on every surface: a key over the API, a console session, an approval link,
a webhook trigger, a schedule, an agent's child run, and the system itself."""

import asyncio
import uuid
from collections.abc import Callable
from urllib.parse import urlparse

import httpx
from fastapi import FastAPI
from flows import calls, only_pending, start, until

from runplane.domain.models import utcnow
from runplane.schemas.webhooks import sign_headers
from runplane.services import approvals as approvals_svc
from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.testing.console import browser_and_api, csrf_of

NOTES = ("read_notes", {"day": "Monday"})


async def activity(api: httpx.AsyncClient, **filters: str) -> list[dict]:
    r = await api.get("/v1/governance/activity", params={"limit": 500, **filters})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def one(api: httpx.AsyncClient, action: str, target_id: str) -> dict:
    """The one row of ``action`` on ``target_id``."""
    rows = [r for r in await activity(api, action=action) if r["target_id"] == target_id]
    assert len(rows) == 1, rows
    return rows[0]


async def own_key_id(api: httpx.AsyncClient) -> str:
    (key,) = (await api.get("/v1/keys")).json()["items"]
    return str(key["id"])


async def test_a_key_over_the_api_is_recorded_with_its_id_and_role(api: httpx.AsyncClient) -> None:
    run = await start(api, "echo", {"n": 1})
    await until(api, run["id"], "succeeded")
    assert (await api.post(f"/v1/runs/{run['id']}/archive")).status_code == 200
    created = await one(api, "run.created", run["id"])
    archived = await one(api, "run.archived", run["id"])
    key_id = await own_key_id(api)
    for row in (created, archived):
        assert row["actor_type"] == "api" and row["actor_key_id"] == key_id
        assert row["actor_role"] == "admin" and row["target_type"] == "run"
    assert created["data"]["trigger"] == "api" and created["data"]["agent_id"]
    assert created["at"] <= archived["at"]


async def test_a_console_session_is_recorded_as_the_console_with_its_key(
    app: FastAPI, rt: Runtime
) -> None:
    key = await auth.create_key(rt.db, f"c-{uuid.uuid4().hex[:10]}", None, "admin")
    async with browser_and_api(app, key) as (browser, api):
        run = await start(api, "echo", {"n": 2})
        await until(api, run["id"], "succeeded")
        page = await browser.get("/console/runs")
        form = {"action": "archive", "run_ids": [run["id"]], "csrf": csrf_of(page.text)}
        assert (await browser.post("/console/runs/bulk", data=form)).status_code == 303
        refused = await browser.post("/console/runs/bulk", data={**form, "csrf": "forged"})
        assert refused.status_code == 403
        row = await one(api, "run.archived", run["id"])
        assert row["actor_type"] == "console" and row["actor_key_id"] == await own_key_id(api)
        # The API's own row of the run's creation says api, not console.
        assert (await one(api, "run.created", run["id"]))["actor_type"] == "api"


async def test_an_approval_link_acts_as_the_link_and_a_rejection_is_recorded(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    run = await start(api, "call_tools", calls(NOTES), approval="ON_TOOL_CALL")
    approval = await only_pending(api, run["id"])
    token = urlparse(approval["link"]).fragment
    body = {"token": token, "decision": "reject", "comment": "not by link"}
    r = await anonymous.post("/v1/runs/approval", json=body)
    assert r.status_code == 200, r.text
    row = await one(api, "approval.rejected", approval["id"])
    assert row["actor_type"] == "link" and row["actor_key_id"] == f"link:{approval['id']}"
    assert row["data"]["run_id"] == run["id"] and row["data"]["comment"] == "not by link"
    assert row["target_type"] == "approval"


async def test_links_minted_revoked_and_decisions_by_id_are_recorded(
    api: httpx.AsyncClient,
) -> None:
    run = await start(api, "call_tools", calls(NOTES, NOTES), approval="ON_TOOL_CALL")
    approval = await only_pending(api, run["id"])
    assert (await api.post(f"/v1/approvals/{approval['id']}/link")).status_code == 200
    assert (await api.post(f"/v1/approvals/{approval['id']}/link/revoke")).status_code == 200
    decided = await api.post(f"/v1/approvals/{approval['id']}", json={"decision": "approve"})
    assert decided.status_code == 200
    rows = await activity(api, resource="approval", resource_id=approval["id"])
    assert [r["action"] for r in rows] == [
        "approval.approved",
        "approval.link_revoked",
        "approval.link_created",
    ]
    assert {r["actor_type"] for r in rows} == {"api"}


async def test_an_expired_approval_is_decided_by_the_system(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    expiry = {"seconds": 0.2, "default_action": "reject"}
    run = await start(
        api, "call_tools", calls(NOTES), approval="ON_TOOL_CALL", approval_expiry=expiry
    )
    approval = await only_pending(api, run["id"])
    for _ in range(100):
        await approvals_svc.apply_expired(rt)
        rows = await activity(api, action="approval.expired")
        if rows:
            break
        await asyncio.sleep(0.05)
    (row,) = rows
    assert row["target_id"] == approval["id"] and row["actor_type"] == "system"
    assert row["actor_key_id"] == "system" and row["data"]["decision"] == "reject"


def signed(secret: str, payload: bytes) -> dict[str, str]:
    headers = sign_headers([secret], f"msg_{uuid.uuid4().hex}", int(utcnow().timestamp()), payload)
    return {**headers, "content-type": "application/json"}


async def test_a_webhook_trigger_starts_its_run_as_the_trigger(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    made = (await api.post("/v1/triggers", json={"kind": "webhook", "agent_id": "echo"})).json()
    payload = b'{"message": "hook"}'
    r = await anonymous.post(
        made["hook_url"], content=payload, headers=signed(made["secret"], payload)
    )
    assert r.status_code == 202, r.text
    row = await one(api, "run.created", r.json()["run_id"])
    assert row["actor_type"] == "trigger" and row["actor_key_id"] == f"trigger:{made['id']}"
    assert row["data"]["trigger"] == "webhook" and row["data"]["trigger_id"] == made["id"]
    assert (await one(api, "trigger.created", made["id"]))["actor_type"] == "api"


async def test_a_schedule_starts_its_run_as_the_schedule(api: httpx.AsyncClient) -> None:
    body = {"kind": "schedule", "agent_id": "echo", "schedule": "* * * * * *", "input": {}}
    made = (await api.post("/v1/triggers", json=body)).json()
    try:
        for _ in range(200):
            rows = await activity(api, actor=f"trigger:{made['id']}")
            if rows:
                break
            await asyncio.sleep(0.05)
    finally:
        await api.post(f"/v1/triggers/{made['id']}/disable")
    row = rows[-1]
    assert row["action"] == "run.created" and row["actor_type"] == "schedule"
    assert row["data"]["trigger"] == "schedule" and row["data"]["trigger_id"] == made["id"]


async def test_a_child_run_is_started_by_its_parent_run(api: httpx.AsyncClient) -> None:
    parent = await start(api, "delegate", {"agent": "echo", "input": {"n": 3}})
    await until(api, parent["id"], "succeeded")
    (child,) = (await api.get("/v1/runs", params={"parent_run_id": parent["id"]})).json()["items"]
    row = await one(api, "run.created", child["id"])
    assert row["actor_type"] == "agent" and row["actor_key_id"] == f"run:{parent['id']}"
    assert row["data"]["trigger"] == "agent"
    assert row["data"]["on_behalf_of_key_id"] == await own_key_id(api)
    assert (await activity(api, actor=f"run:{parent['id']}")) == [row]


async def test_cancel_rerun_and_duplicate_name_the_run_they_came_from(
    api: httpx.AsyncClient,
) -> None:
    run = await start(api, "steps", {"steps": 1, "sleep": 30})
    assert (await api.post(f"/v1/runs/{run['id']}/cancel")).status_code == 202
    await until(api, run["id"], "canceled")
    again = (await api.post(f"/v1/runs/{run['id']}/rerun", json={})).json()
    copy = (await api.post(f"/v1/runs/{run['id']}/duplicate", json={"name": "copy"})).json()
    assert (await one(api, "run.cancel_requested", run["id"]))["actor_type"] == "api"
    assert (await one(api, "run.rerun", again["id"]))["data"]["rerun_of"] == run["id"]
    duplicated = await one(api, "run.duplicated", copy["id"])
    assert duplicated["data"]["duplicate_of"] == run["id"]
    assert duplicated["data"]["overrides"] == ["name"]
    for made in (again, copy):
        await api.post(f"/v1/runs/{made['id']}/cancel")


async def test_the_change_and_its_row_are_one_transaction(
    make_client: Callable[..., object], rt: Runtime
) -> None:
    """A refused change leaves no row: a deletion of a live run is a 409 and says nothing."""
    api = await make_client()  # type: ignore[operator]
    run = await start(api, "steps", {"steps": 1, "sleep": 30})
    assert (await api.delete(f"/v1/runs/{run['id']}")).status_code == 409
    assert await activity(api, action="run.deleted") == []
    await api.post(f"/v1/runs/{run['id']}/cancel")
