"""Approval strategies, rules, expiry and signed links, over HTTP."""

import asyncio
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest
from flows import calls, events, only_pending, pending, start, until

from runplane.services.runtime import Runtime
from runplane.testing.webhooks import WebhookReceiver

NOTES = ("read_notes", {"day": "Monday"})


def token_of(approval: dict) -> str:
    """The token of an approval's link, as a key allowed to decide is shown it."""
    return urlparse(approval["link"]).fragment


async def test_on_tool_call_pauses_before_each_call_until_approved(
    api: httpx.AsyncClient,
) -> None:
    run = await start(api, "call_tools", calls(NOTES), approval="ON_TOOL_CALL")
    approval = await only_pending(api, run["id"])
    assert approval["kind"] == "tool_call"
    assert approval["request"]["tool"] == "read_notes"
    assert approval["request"]["arguments"] == {"day": "Monday"}
    paused = (await api.get(f"/v1/runs/{run['id']}")).json()
    assert paused["waiting_on"]["approval_id"] == approval["id"]
    assert not await events(api, run["id"], "tool_result")

    r = await api.post(f"/v1/approvals/{approval['id']}", json={"decision": "approve"})
    assert r.status_code == 200 and r.json()["status"] == "approved"
    done = await until(api, run["id"], "succeeded")
    assert done["result"]["content"]["results"][0]["output"]
    resolved = (await events(api, run["id"], "approval.resolved"))[0]["data"]
    assert resolved["decision"] == "approve" and resolved["decided_by"].startswith("key:")
    assert (await api.get(f"/v1/runs/{run['id']}/verify")).json()["ok"] is True


async def test_a_rejected_call_reaches_the_agent_as_a_rejection(api: httpx.AsyncClient) -> None:
    run = await start(api, "call_tools", calls(NOTES), approval="ON_TOOL_CALL")
    approval = await only_pending(api, run["id"])
    body = {"decision": "reject", "comment": "not today"}
    assert (await api.post(f"/v1/approvals/{approval['id']}", json=body)).status_code == 200
    done = await until(api, run["id"], "succeeded")
    error = done["result"]["content"]["results"][0]["error"]
    assert error["code"] == "tool_rejected" and "not today" in error["message"]
    assert not await events(api, run["id"], "step.started")


async def test_approved_calls_may_carry_edited_arguments(api: httpx.AsyncClient) -> None:
    run = await start(api, "call_tools", calls(NOTES), approval="ON_TOOL_CALL")
    approval = await only_pending(api, run["id"])
    body = {"decision": "approve", "arguments": {"day": "Friday"}}
    r = await api.post(f"/v1/approvals/{approval['id']}", json=body)
    assert r.json()["arguments"] == {"day": "Friday"}
    done = await until(api, run["id"], "succeeded")
    notes = done["result"]["content"]["results"][0]["output"]
    assert notes and all(n["day"] == "Friday" for n in notes)
    resolved = (await events(api, run["id"], "approval.resolved"))[0]["data"]
    assert resolved["edited_arguments"] == {"day": "Friday"}


async def test_edited_arguments_are_checked_against_the_tool(api: httpx.AsyncClient) -> None:
    run = await start(api, "call_tools", calls(NOTES), approval="ON_TOOL_CALL")
    approval = await only_pending(api, run["id"])
    body = {"decision": "approve", "arguments": {"when": "Friday"}}
    r = await api.post(f"/v1/approvals/{approval['id']}", json=body)
    assert r.status_code == 422 and r.json()["details"][0]["name"].startswith("arguments")
    assert (await pending(api, run["id"]))[0]["id"] == approval["id"]


async def test_on_start_returns_the_plan_and_waits_for_its_approval(
    api: httpx.AsyncClient,
) -> None:
    run = await start(
        api,
        "intent",
        {"intent": "email the team the notes from Monday"},
        approval="ON_START",
        user_id="alice",
    )
    assert run["status"] == "paused"
    assert run["plan"]["format"] == "json"
    tools = [s["tool"] for s in run["plan"]["content"]["steps"]]
    assert tools == ["read_notes", "send_email"]
    approval = await only_pending(api, run["id"])
    assert approval["kind"] == "plan" and approval["request"]["plan"] == run["plan"]
    await api.post(f"/v1/approvals/{approval['id']}", json={"decision": "approve"})
    waiting = await until(api, run["id"], "auth_required")
    assert waiting["waiting_on"]["integration"] == "email"


async def test_a_rejected_plan_cancels_the_run_with_the_reason(api: httpx.AsyncClient) -> None:
    run = await start(api, "steps", {"steps": 2}, approval="ON_START")
    assert run["status"] == "paused" and run["plan"]["format"] == "text"
    approval = await only_pending(api, run["id"])
    body = {"decision": "reject", "comment": "wrong agent"}
    await api.post(f"/v1/approvals/{approval['id']}", json=body)
    done = await until(api, run["id"], "canceled")
    assert done["cancel_receipt"]["step"] is None and done["steps_finished"] == 0
    assert not await events(api, run["id"], "step.started")
    assert (await events(api, run["id"], "status"))[-1]["data"]["receipt"][
        "reason"
    ] == "wrong agent"


async def test_rules_ask_for_approval_only_when_their_condition_holds(
    api: httpx.AsyncClient,
) -> None:
    small = ("pay", {"account": "ops", "to": "acme", "amount": 100, "reference": "inv-1"})
    large = ("pay", {"account": "ops", "to": "acme", "amount": 900, "reference": "inv-2"})
    rules = [{"tool": "pay", "when": "amount > 500"}]
    run = await start(api, "call_tools", calls(small, large), approval_rules=rules)
    approval = await only_pending(api, run["id"])
    assert approval["request"]["arguments"]["amount"] == 900
    assert "amount > 500" in approval["request"]["reason"]
    assert len(await events(api, run["id"], "tool_result")) == 1
    await api.post(f"/v1/approvals/{approval['id']}", json={"decision": "approve"})
    done = await until(api, run["id"], "succeeded")
    assert [r["output"]["amount"] for r in done["result"]["content"]["results"]] == [100, 900]


async def test_a_bad_rule_is_refused_at_creation(api: httpx.AsyncClient) -> None:
    body = {
        "agent_id": "call_tools",
        "input": calls(NOTES),
        "approval_rules": [{"tool": "pay", "when": "amount >> 5"}],
    }
    r = await api.post("/v1/runs", json=body)
    assert r.status_code == 422 and r.json()["details"][0]["name"] == "approval_rules.when"


async def test_an_expired_approval_takes_its_default_action(api: httpx.AsyncClient) -> None:
    expiry = {"seconds": 0.3, "default_action": "reject"}
    run = await start(
        api, "call_tools", calls(NOTES), approval="ON_TOOL_CALL", approval_expiry=expiry
    )
    approval = await only_pending(api, run["id"])
    assert approval["expires_at"] and approval["default_action"] == "reject"
    done = await until(api, run["id"], "succeeded", timeout=15)
    assert done["result"]["content"]["results"][0]["error"]["code"] == "tool_rejected"
    resolved = (await events(api, run["id"], "approval.resolved"))[0]["data"]
    assert resolved["decided_by"] == "system:expiry"


async def test_an_approval_expiring_with_cancel_cancels_the_run(api: httpx.AsyncClient) -> None:
    expiry = {"seconds": 0.3, "default_action": "cancel"}
    run = await start(
        api, "call_tools", calls(NOTES), approval="ON_TOOL_CALL", approval_expiry=expiry
    )
    await only_pending(api, run["id"])
    done = await until(api, run["id"], "canceled", timeout=15)
    assert done["cancel_receipt"]["reason"] == "an approval expired"
    approvals = (await api.get("/v1/approvals", params={"run_id": run["id"]})).json()["items"]
    assert approvals[0]["status"] == "canceled"


async def test_canceling_a_paused_run_ends_it_at_once(api: httpx.AsyncClient) -> None:
    run = await start(api, "call_tools", calls(NOTES), approval="ON_TOOL_CALL")
    approval = await only_pending(api, run["id"])
    r = await api.post(f"/v1/runs/{run['id']}/cancel")
    assert r.status_code == 202 and r.json()["status"] == "canceled"
    assert r.json()["cancel_receipt"]["requested_at"]
    assert (await api.get(f"/v1/approvals/{approval['id']}")).json()["status"] == "canceled"
    late = await api.post(f"/v1/approvals/{approval['id']}", json={"decision": "approve"})
    assert late.status_code == 409


async def test_approvals_are_listed_by_status_and_run(api: httpx.AsyncClient) -> None:
    a = await start(api, "call_tools", calls(NOTES), approval="ON_TOOL_CALL")
    b = await start(api, "call_tools", calls(NOTES), approval="ON_TOOL_CALL")
    first = await only_pending(api, a["id"])
    await only_pending(api, b["id"])
    await api.post(f"/v1/approvals/{first['id']}", json={"decision": "approve"})
    listed = (await api.get("/v1/approvals", params={"status": "pending"})).json()["items"]
    assert [x["run_id"] for x in listed] == [b["id"]]
    r = await api.get("/v1/approvals", params={"status": "maybe"})
    assert r.status_code == 422
    page = (await api.get("/v1/approvals", params={"limit": 1})).json()
    assert len(page["items"]) == 1 and page["continuation_token"]


async def test_approval_required_carries_a_link_that_decides_once(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    run = await start(api, "call_tools", calls(NOTES), approval="ON_TOOL_CALL")
    approval = await only_pending(api, run["id"])
    event = (await events(api, run["id"], "approval.required"))[0]
    assert event["data"]["approval_id"] == approval["id"] and "link" not in event["data"]
    token = token_of(approval)
    seen = await anonymous.post("/v1/runs/approval/view", json={"token": token})
    assert seen.status_code == 200 and seen.json()["id"] == approval["id"]
    r = await anonymous.post("/v1/runs/approval", json={"token": token, "decision": "approve"})
    assert r.status_code == 200 and r.json()["decided_by"] == "link"
    assert r.json()["decided_via"] == "link" and r.json()["decided_by_key_id"] is None
    await until(api, run["id"], "succeeded")
    again = await anonymous.post("/v1/runs/approval", json={"token": token, "decision": "reject"})
    assert again.status_code == 409
    assert set(again.json()) == {"status_code", "message", "details"}


async def test_forged_expired_and_foreign_links_change_nothing(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient, make_client, rt: Runtime
) -> None:
    run = await start(api, "call_tools", calls(NOTES), approval="ON_TOOL_CALL")
    approval = await only_pending(api, run["id"])
    token = token_of(approval)
    body = {"decision": "approve"}

    body_part, _, mac = token.partition(".")
    forged = f"{body_part}.{mac[::-1]}"
    r = await anonymous.post("/v1/runs/approval", json={**body, "token": forged})
    assert r.status_code == 400 and r.json()["details"][0]["name"] == "token"
    junk = await anonymous.post("/v1/runs/approval/view", json={"token": "junk"})
    assert junk.status_code == 400

    expired = rt.keys.sign_link(approval["id"], approval_tenant(rt, api), time.time() - 1)
    r = await anonymous.post("/v1/runs/approval", json={**body, "token": expired})
    assert r.status_code == 410

    other = await make_client()
    r = await other.post("/v1/runs/approval", json={**body, "token": token})
    assert r.status_code == 404
    assert (await other.post(f"/v1/approvals/{approval['id']}", json=body)).status_code == 404
    assert (await other.get("/v1/approvals")).json()["items"] == []

    still = (await api.get(f"/v1/approvals/{approval['id']}")).json()
    assert still["status"] == "pending"
    assert (await api.get(f"/v1/runs/{run['id']}")).json()["status"] == "paused"


def approval_tenant(rt: Runtime, api: httpx.AsyncClient) -> str:
    """The tenant id behind a test client's key."""
    from runplane.services.auth import hash_key

    key = api.headers["Authorization"].split()[1]
    principal = rt.key_cache[hash_key(key)][1]
    return principal.tenant_id  # type: ignore[attr-defined]


async def test_a_decision_needs_a_valid_body(api: httpx.AsyncClient) -> None:
    run = await start(api, "call_tools", calls(NOTES), approval="ON_TOOL_CALL")
    approval = await only_pending(api, run["id"])
    for body in ({}, {"decision": "maybe"}, {"decision": "approve", "action": "skip"}):
        r = await api.post(f"/v1/approvals/{approval['id']}", json=body)
        assert r.status_code == 422, (body, r.text)
    r = await api.post("/v1/approvals/apr_nope", json={"decision": "approve"})
    assert r.status_code == 404


@pytest.fixture
def webhook(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[dict]]]:
    """A local webhook receiver, which the app is allowed to call; its URL and what it got."""
    with WebhookReceiver() as receiver:
        monkeypatch.setattr(rt.settings, "outbound_allow", [receiver.allow_entry])
        yield receiver.url, receiver.received


async def test_the_notify_webhook_hears_of_approvals_and_the_end(
    api: httpx.AsyncClient, webhook: tuple[str, list[dict]]
) -> None:
    url, received = webhook
    run = await start(
        api, "call_tools", calls(NOTES), approval="ON_TOOL_CALL", notify={"webhook": url}
    )
    approval = await only_pending(api, run["id"])
    for _ in range(100):
        if received:
            break
        await asyncio.sleep(0.02)
    first = received[0]["body"]
    assert first["event"] == "approval.required" and first["run_id"] == run["id"]
    assert first["approval"]["approval_id"] == approval["id"]
    assert first["approval"]["link"].startswith("http")
    await api.post(f"/v1/approvals/{approval['id']}", json={"decision": "approve"})
    await until(api, run["id"], "succeeded")
    for _ in range(100):
        if len(received) > 1:
            break
        await asyncio.sleep(0.02)
    second = received[1]["body"]
    assert second == {**second, "event": "run.finished", "status": "succeeded"}
