"""Budgets pause a run before a model call that would pass them, and fail it at a ceiling.

Every call of the test provider uses 1200 tokens (1000 in, 200 out); a call is estimated
at its prompt's tokens plus an output allowance of 500 before it is made.
"""

import asyncio
from typing import Any

import httpx
from usage_agents import MeteredProvider

from runplane.engine.metering import OUTPUT_ALLOWANCE, estimate_tokens

CALL_TOKENS = 1200
NEXT_CALL = estimate_tokens("hello") + OUTPUT_ALLOWANCE


async def settled(api: httpx.AsyncClient, run_id: str, *statuses: str) -> dict[str, Any]:
    """The run once it reaches one of ``statuses`` (or fail after 20 s)."""
    for _ in range(400):
        run: dict[str, Any] = (await api.get(f"/v1/runs/{run_id}")).json()
        if run["status"] in statuses:
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} is {run['status']}, not {statuses}")


async def start(api: httpx.AsyncClient, calls: int, budget: dict[str, Any] | None) -> str:
    body: dict[str, Any] = {
        "agent_id": "metered_chat",
        "input": {"calls": calls, "model": "gpt-4o-mini"},
    }
    if budget is not None:
        body["budget"] = budget
    created = await api.post("/v1/runs", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def events_of(api: httpx.AsyncClient, run_id: str, type_: str) -> list[dict[str, Any]]:
    page = (await api.get(f"/v1/runs/{run_id}/events", params={"limit": 1000})).json()
    items = page["items"] if isinstance(page, dict) else page
    return [e for e in items if e["type"] == type_]


async def test_a_run_pauses_before_the_call_that_would_pass_its_budget_and_says_what_it_needs(
    api: httpx.AsyncClient, provider: MeteredProvider
) -> None:
    calls_before = provider.calls
    run_id = await start(api, 2, {"tokens": 1500})
    run = await settled(api, run_id, "paused", "succeeded", "failed")
    assert run["status"] == "paused", run
    need = {
        "scope": "run",
        "unit": "tokens",
        "limit": 1500,
        "used": CALL_TOKENS,
        "needs": NEXT_CALL,
        "step": "ask 2",
    }
    assert run["waiting_on"] == {"kind": "budget", "budget": need}
    assert run["usage"]["input_tokens"] == 1000
    [event] = await events_of(api, run_id, "budget.exceeded")
    assert event["data"] == need
    assert provider.calls - calls_before == 1


async def test_approving_the_overrun_resumes_the_run_from_the_same_call(
    api: httpx.AsyncClient, provider: MeteredProvider
) -> None:
    calls_before = provider.calls
    run_id = await start(api, 2, {"tokens": 1500})
    await settled(api, run_id, "paused")
    approved = await api.post(f"/v1/runs/{run_id}/budget/approve", json={"tokens": 500})
    assert approved.status_code == 200, approved.text
    activity = await api.get("/v1/governance/activity", params={"action": "run.overrun_approved"})
    assert [(r["target_id"], r["data"]) for r in activity.json()["items"]] == [
        (run_id, {"tokens": 500})
    ]
    run = await settled(api, run_id, "succeeded", "failed", "paused")
    assert run["status"] == "succeeded", run
    assert run["budget"]["approved"]["tokens"] == 500
    # The first call was recorded, so it was not made again: two calls in all.
    assert provider.calls - calls_before == 2
    assert run["usage"]["input_tokens"] + run["usage"]["output_tokens"] == 2 * CALL_TOKENS
    steps = (await api.get(f"/v1/runs/{run_id}/steps")).json()
    steps = steps["items"] if isinstance(steps, dict) else steps
    assert [s["name"] for s in steps] == ["ask 1", "ask 2"]


async def test_raising_the_runs_budget_resumes_it(api: httpx.AsyncClient) -> None:
    run_id = await start(api, 2, {"tokens": 1500})
    await settled(api, run_id, "paused")
    raised = await api.put(f"/v1/runs/{run_id}/budget", json={"tokens": 5000})
    assert raised.status_code == 200, raised.text
    run = await settled(api, run_id, "succeeded", "failed")
    assert run["status"] == "succeeded", run
    assert run["budget"]["tokens"] == 5000


async def test_a_hard_ceiling_fails_the_run_with_budget_exceeded(api: httpx.AsyncClient) -> None:
    run_id = await start(api, 2, {"hard_ceiling": {"tokens": 1500}})
    run = await settled(api, run_id, "failed", "succeeded", "paused")
    assert run["status"] == "failed", run
    assert run["error"]["code"] == "budget_exceeded"
    assert "ask 2" in run["error"]["message"] and "1500" in run["error"]["message"]


async def test_a_credit_budget_pauses_on_the_priced_estimate(api: httpx.AsyncClient) -> None:
    run_id = await start(api, 3, {"credits": 0.05})
    run = await settled(api, run_id, "paused", "succeeded", "failed")
    assert run["status"] == "paused", run
    budget = run["waiting_on"]["budget"]
    assert budget["unit"] == "credits" and budget["scope"] == "run"
    assert budget["used"] + budget["needs"] > 0.05


async def test_an_agent_budget_pauses_its_runs_until_it_is_raised(api: httpx.AsyncClient) -> None:
    put = await api.put("/v1/budgets/agents/metered_chat", json={"tokens": 1500, "period": "total"})
    assert put.status_code == 200, put.text
    assert put.json()["scope"] == "agent" and put.json()["agent"] == "metered_chat"
    run_id = await start(api, 2, None)
    run = await settled(api, run_id, "paused", "succeeded", "failed")
    assert run["waiting_on"]["budget"]["scope"] == "agent"
    raised = await api.put(
        "/v1/budgets/agents/metered_chat", json={"tokens": 10_000, "period": "total"}
    )
    assert raised.status_code == 200
    assert (await settled(api, run_id, "succeeded", "failed"))["status"] == "succeeded"
    listed = (await api.get("/v1/budgets")).json()
    assert [(b["scope"], b["agent"], b["tokens"]) for b in listed] == [
        ("agent", "metered_chat", 10_000)
    ]


async def test_a_tenant_budget_pauses_runs_until_it_is_removed(api: httpx.AsyncClient) -> None:
    assert (await api.put("/v1/budgets/tenant", json={"tokens": 1500})).status_code == 200
    run_id = await start(api, 2, None)
    run = await settled(api, run_id, "paused", "succeeded", "failed")
    assert run["waiting_on"]["budget"]["scope"] == "tenant"
    assert (await api.delete("/v1/budgets/tenant")).status_code == 204
    assert (await settled(api, run_id, "succeeded", "failed"))["status"] == "succeeded"
    assert (await api.get("/v1/budgets/tenant")).status_code == 404


async def test_budget_requests_that_make_no_sense_are_refused(
    api: httpx.AsyncClient,
    make_client,  # type: ignore[no-untyped-def]
) -> None:
    assert (await api.put("/v1/budgets/agents/nobody", json={"tokens": 1})).status_code == 404
    assert (await api.put("/v1/budgets/tenant", json={"tokens": -1})).status_code == 422
    run_id = await start(api, 1, None)
    await settled(api, run_id, "succeeded")
    # Only a run paused on a budget has an overrun to approve.
    refused = await api.post(f"/v1/runs/{run_id}/budget/approve", json={"tokens": 10})
    assert refused.status_code == 409
    member = await make_client("member")
    assert (await member.put("/v1/budgets/tenant", json={"tokens": 1})).status_code == 403


async def test_a_duplicate_keeps_the_budget_but_not_the_approved_overrun(
    api: httpx.AsyncClient,
) -> None:
    run_id = await start(api, 2, {"tokens": 1500})
    await settled(api, run_id, "paused")
    await api.post(f"/v1/runs/{run_id}/budget/approve", json={"tokens": 500})
    await settled(api, run_id, "succeeded")
    again = await api.post(f"/v1/runs/{run_id}/duplicate", json={})
    assert again.status_code == 201, again.text
    assert again.json()["budget"]["tokens"] == 1500
    assert again.json()["budget"]["approved"] is None
