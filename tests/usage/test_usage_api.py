"""``/v1/usage``: the tenant's model usage per agent, model or day, over a time range."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from usage_agents import CALL_USAGE

from runplane.providers.catalog import find_model

MINI, FOUR = find_model("gpt-4o-mini"), find_model("gpt-4o")


async def run_chat(api: httpx.AsyncClient, calls: int, model: str) -> None:
    body = {"agent_id": "metered_chat", "input": {"calls": calls, "model": model}, "wait": 20}
    run = (await api.post("/v1/runs", json=body)).json()
    assert run["status"] == "succeeded", run


async def test_usage_is_summed_per_model_with_tokens_and_credits(api: httpx.AsyncClient) -> None:
    await run_chat(api, 2, "gpt-4o-mini")
    await run_chat(api, 1, "gpt-4o")
    found = (await api.get("/v1/usage", params={"group_by": "model"})).json()
    assert found["group_by"] == "model"
    by_model = {i["key"]: i for i in found["items"]}
    assert set(by_model) == {"gpt-4o", "gpt-4o-mini"}
    assert MINI is not None and FOUR is not None
    mini = by_model["gpt-4o-mini"]
    assert (mini["calls"], mini["runs"]) == (2, 1)
    assert mini["usage"] == {k: 2 * v for k, v in CALL_USAGE.items()}
    assert mini["credits"] == pytest.approx(2 * MINI.credits(CALL_USAGE))
    assert by_model["gpt-4o"]["credits"] == pytest.approx(FOUR.credits(CALL_USAGE))
    assert found["usage"]["input_tokens"] == 3 * CALL_USAGE["input_tokens"]
    assert found["credits"] == pytest.approx(mini["credits"] + by_model["gpt-4o"]["credits"])


async def test_usage_per_agent_and_per_day(api: httpx.AsyncClient) -> None:
    await run_chat(api, 2, "gpt-4o-mini")
    per_agent = (await api.get("/v1/usage", params={"group_by": "agent"})).json()["items"]
    assert [(i["key"], i["calls"]) for i in per_agent] == [("metered_chat", 2)]
    per_day = (await api.get("/v1/usage", params={"group_by": "day"})).json()["items"]
    today = datetime.now(UTC).date().isoformat()
    assert [(i["key"], i["calls"]) for i in per_day] == [(today, 2)]


async def test_since_and_until_bound_the_calls_counted(api: httpx.AsyncClient) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    await run_chat(api, 1, "gpt-4o-mini")
    after = datetime.now(UTC) + timedelta(seconds=1)
    inside = await api.get(
        "/v1/usage", params={"since": before.isoformat(), "until": after.isoformat()}
    )
    assert [i["calls"] for i in inside.json()["items"]] == [1]
    later = await api.get("/v1/usage", params={"since": after.isoformat()})
    assert later.json()["items"] == [] and later.json()["credits"] == 0


async def test_usage_is_the_tenants_own(api: httpx.AsyncClient, make_client) -> None:  # type: ignore[no-untyped-def]
    await run_chat(api, 1, "gpt-4o-mini")
    other = await make_client()
    assert (await other.get("/v1/usage")).json()["items"] == []


async def test_bad_usage_queries_are_refused(api: httpx.AsyncClient) -> None:
    assert (await api.get("/v1/usage", params={"group_by": "week"})).status_code == 422
    now = datetime.now(UTC)
    backwards = {"since": now.isoformat(), "until": (now - timedelta(days=1)).isoformat()}
    answer = await api.get("/v1/usage", params=backwards)
    assert answer.status_code == 422
    assert answer.json()["details"][0]["name"] == "until"
