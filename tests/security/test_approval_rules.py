"""Finding 10: approval rules fail closed.

A rule whose condition cannot be checked against a call (the argument is missing, or is
of another JSON type than the rule's value) used to let the call through unasked. Each
test makes such a call over HTTP and checks that the run pauses before the tool runs,
with a request that says why, and that the call happens only once a person approves.
"""

import asyncio
from typing import Any

import httpx


async def start(api: httpx.AsyncClient, tool: str, arguments: dict[str, Any], rule: dict) -> dict:
    body = {
        "agent_id": "call_tools",
        "input": {"calls": [{"tool": tool, "arguments": arguments}]},
        "approval_rules": [rule],
    }
    r = await api.post("/v1/runs", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def settled(api: httpx.AsyncClient, run_id: str, *statuses: str) -> dict:
    for _ in range(750):
        run = (await api.get(f"/v1/runs/{run_id}")).json()
        if run["status"] in statuses:
            return run
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} stayed {run['status']}, wanted {statuses}")


async def tool_results(api: httpx.AsyncClient, run_id: str) -> list[dict]:
    items = (await api.get(f"/v1/runs/{run_id}/events", params={"limit": 1000})).json()["items"]
    return [e for e in items if e["type"] == "tool_result"]


async def asks_first(api: httpx.AsyncClient, run: dict, why: str) -> None:
    """The run pauses before the call, says why, and makes it once approved."""
    paused = await settled(api, run["id"], "paused", "succeeded", "failed")
    assert paused["status"] == "paused", "the call went through without asking"
    assert await tool_results(api, run["id"]) == []
    page = (await api.get("/v1/approvals", params={"run_id": run["id"]})).json()["items"]
    assert len(page) == 1 and page[0]["status"] == "pending"
    reason = page[0]["request"]["reason"]
    assert "could not be checked" in reason and why in reason, reason
    r = await api.post(f"/v1/approvals/{page[0]['id']}", json={"decision": "approve"})
    assert r.status_code == 200, r.text
    done = await settled(api, run["id"], "succeeded", "failed")
    assert done["status"] == "succeeded" and len(await tool_results(api, run["id"])) == 1


async def test_a_rule_on_a_missing_argument_asks_for_approval(api: httpx.AsyncClient) -> None:
    # A typo in the rule's argument name must not switch the rule off.
    payment = {"account": "ops", "to": "acme", "amount": 900, "reference": "r-missing"}
    run = await start(api, "pay", payment, {"tool": "pay", "when": "ammount > 500"})
    await asks_first(api, run, "the argument 'ammount' is missing")


async def test_a_rule_comparing_a_string_with_a_number_asks_for_approval(
    api: httpx.AsyncClient,
) -> None:
    # ``day > 500`` with ``day`` a string: Python would raise; the rule used to be skipped.
    run = await start(
        api, "read_notes", {"day": "Monday"}, {"tool": "read_notes", "when": "day > 500"}
    )
    await asks_first(api, run, "'day' is a string, not a number like 500")


async def test_a_rule_comparing_a_number_with_a_string_asks_for_approval(
    api: httpx.AsyncClient,
) -> None:
    # A quoted number in the rule: 900 > "500" cannot be told, so a person decides.
    payment = {"account": "ops", "to": "acme", "amount": 900, "reference": "r-quoted"}
    run = await start(api, "pay", payment, {"tool": "pay", "when": 'amount > "500"'})
    await asks_first(api, run, "'amount' is a number, not a string")


async def test_a_rule_that_can_be_checked_and_does_not_hold_asks_nothing(
    api: httpx.AsyncClient,
) -> None:
    payment = {"account": "ops", "to": "acme", "amount": 100, "reference": "r-small"}
    run = await start(api, "pay", payment, {"tool": "pay", "when": "amount > 500"})
    done = await settled(api, run["id"], "succeeded", "failed", "paused")
    assert done["status"] == "succeeded"
    assert (await api.get("/v1/approvals", params={"run_id": run["id"]})).json()["items"] == []
