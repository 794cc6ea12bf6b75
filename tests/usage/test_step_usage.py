"""Model calls record their model, effort, tokens and credits; runs keep the totals."""

import httpx
import pytest
from usage_agents import CALL_USAGE

from runplane.providers.catalog import find_model

# gpt-4o-mini: $0.15 per Mtok in, $0.075 cached, $0.60 out; 1 credit = 1 US cent.
MINI = find_model("gpt-4o-mini")
CALL_CREDITS = (900 * 0.15 + 100 * 0.075 + 200 * 0.60) / 1_000_000 * 100


def test_a_call_costs_its_tokens_at_the_catalogue_price() -> None:
    assert MINI is not None
    assert MINI.credits(CALL_USAGE) == pytest.approx(CALL_CREDITS)


async def test_each_model_call_step_shows_model_effort_tokens_and_credits(
    api: httpx.AsyncClient,
) -> None:
    body = {
        "agent_id": "metered_chat",
        "input": {"calls": 2, "model": "gpt-4o-mini", "effort": "low"},
    }
    run = (await api.post("/v1/runs", json={**body, "wait": 20})).json()
    assert run["status"] == "succeeded", run
    steps = (await api.get(f"/v1/runs/{run['id']}/steps")).json()
    steps = steps["items"] if isinstance(steps, dict) else steps
    assert [s["name"] for s in steps] == ["ask 1", "ask 2"]
    for step in steps:
        assert step["model"] == "gpt-4o-mini"
        assert step["reasoning_effort"] == "low"
        assert step["usage"] == CALL_USAGE
        assert step["credits"] == pytest.approx(CALL_CREDITS)


async def test_a_run_totals_its_calls_tokens_and_credits(api: httpx.AsyncClient) -> None:
    body = {"agent_id": "metered_chat", "input": {"calls": 3, "model": "gpt-4o-mini"}, "wait": 20}
    run = (await api.post("/v1/runs", json=body)).json()
    assert run["status"] == "succeeded", run
    again = (await api.get(f"/v1/runs/{run['id']}")).json()
    for shown in (run, again):
        assert shown["usage"] == {k: 3 * v for k, v in CALL_USAGE.items()}
        assert shown["credits"]["actual"] == pytest.approx(3 * CALL_CREDITS)
        # A code agent that declares no model is not estimated.
        assert shown["credits"]["estimated"] is None


async def test_a_model_missing_from_the_catalogue_counts_tokens_but_no_credits(
    api: httpx.AsyncClient,
) -> None:
    body = {"agent_id": "metered_chat", "input": {"model": "my-own-model"}, "wait": 20}
    run = (await api.post("/v1/runs", json=body)).json()
    assert run["status"] == "succeeded", run
    assert run["usage"]["input_tokens"] == CALL_USAGE["input_tokens"]
    assert run["credits"]["actual"] == 0
    steps = (await api.get(f"/v1/runs/{run['id']}/steps")).json()
    steps = steps["items"] if isinstance(steps, dict) else steps
    assert steps[0]["model"] == "my-own-model" and steps[0]["credits"] is None


async def test_a_run_without_model_calls_shows_zero_usage(api: httpx.AsyncClient) -> None:
    run = (
        await api.post(
            "/v1/runs", json={"agent_id": "metered_chat", "input": {"calls": 0}, "wait": 20}
        )
    ).json()
    assert run["status"] == "succeeded", run
    assert run["usage"] == dict.fromkeys(CALL_USAGE, 0)
    assert run["credits"] == {"estimated": None, "actual": None}
