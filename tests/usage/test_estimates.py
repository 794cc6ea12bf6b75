"""A run's credits are estimated before it starts, from its revision and its input."""

import uuid
from collections.abc import Callable

import httpx
import pytest

from runplane.domain.ids import new_id
from runplane.domain.models import utcnow
from runplane.engine.metering import OUTPUT_ALLOWANCE, estimate_tokens
from runplane.providers.catalog import find_model
from runplane.services.runtime import Runtime
from runplane.store import agents as agents_store
from runplane.store import tenants as tenants_store

STEPS = [
    {"name": "research", "instructions": "Read the files and list the facts." * 10},
    {"name": "draft", "instructions": "Draft a report.", "model": "gpt-4o"},
    {"name": "summary", "instructions": "Summarize as JSON.", "model": None},
]


async def steps_agent(rt: Runtime, tenant_name: str, name: str) -> str:
    """A step agent's published revision, written as the step-agent API would store it."""
    now, agent_id, revision_id = utcnow(), new_id("agt"), new_id("rev")
    config = {"name": name, "kind": "steps", "model": {"name": "gpt-4o-mini"}, "steps": STEPS}
    async with rt.db.write() as conn:
        found = await tenants_store.get_tenant_by_name(conn, tenant_name)
        assert found is not None
        tenant = found["id"]
        await agents_store.insert_agent(
            conn,
            id=agent_id,
            tenant_id=tenant,
            name=name,
            kind="steps",
            description=None,
            config=config,
            published_revision_id=revision_id,
            created_at=now,
            updated_at=now,
        )
        await agents_store.insert_revision(
            conn,
            id=revision_id,
            tenant_id=tenant,
            agent_id=agent_id,
            hash=uuid.uuid4().hex,
            stage="published",
            config=config,
            created_at=now,
            published_at=now,
        )
    return agent_id


def expected(input_value: object) -> float:
    """The estimate by hand: each step's prompt, the input and earlier answers, in and out."""
    total, earlier = 0.0, 0
    for step in STEPS:
        info = find_model(step.get("model") or "gpt-4o-mini")
        assert info is not None
        tokens = estimate_tokens(step["instructions"]) + estimate_tokens(input_value) + earlier
        total += info.credits({"input_tokens": tokens, "output_tokens": OUTPUT_ALLOWANCE})
        earlier += OUTPUT_ALLOWANCE
    return total


@pytest.fixture
async def tenant_api(make_client: Callable[..., object]) -> tuple[str, httpx.AsyncClient]:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    client = await make_client(tenant=tenant)  # type: ignore[operator]
    assert isinstance(client, httpx.AsyncClient)
    return tenant, client


async def test_a_step_agent_is_estimated_per_step_before_any_run(
    rt: Runtime, tenant_api: tuple[str, httpx.AsyncClient]
) -> None:
    tenant, api = tenant_api
    await steps_agent(rt, tenant, "reporter")
    body = {"agent_id": "reporter", "input": {"site": "https://example.com", "depth": 2}}
    answer = await api.post("/v1/runs/estimate", json=body)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert [s["name"] for s in found["steps"]] == ["research", "draft", "summary"]
    assert [s["model"] for s in found["steps"]] == ["gpt-4o-mini", "gpt-4o", "gpt-4o-mini"]
    assert found["credits"] == pytest.approx(expected(body["input"]), abs=1e-6)
    assert found["steps"][1]["usage"]["output_tokens"] == OUTPUT_ALLOWANCE
    listed = (await api.get("/v1/runs")).json()["items"]
    assert listed == []  # estimating made no run


async def test_the_run_model_does_not_override_the_agents_own_default(
    rt: Runtime, tenant_api: tuple[str, httpx.AsyncClient]
) -> None:
    tenant, api = tenant_api
    await steps_agent(rt, tenant, "reporter")
    plain = (await api.post("/v1/runs/estimate", json={"agent_id": "reporter"})).json()
    dearer = (
        await api.post(
            "/v1/runs/estimate",
            json={"agent_id": "reporter", "model": {"name": "gpt-4o"}},
        )
    ).json()
    # The run's model does not override the agent's own default, which the steps use.
    assert dearer["credits"] == plain["credits"]


async def test_creating_a_run_records_its_estimate(
    rt: Runtime, tenant_api: tuple[str, httpx.AsyncClient]
) -> None:
    tenant, api = tenant_api
    await steps_agent(rt, tenant, "reporter")
    estimate = (await api.post("/v1/runs/estimate", json={"agent_id": "reporter"})).json()
    created = await api.post("/v1/runs", json={"agent_id": "reporter"})
    assert created.status_code == 201, created.text
    assert created.json()["credits"]["estimated"] == pytest.approx(estimate["credits"])


async def test_a_code_agent_that_declares_no_model_has_no_estimate(api: httpx.AsyncClient) -> None:
    found = (
        await api.post("/v1/runs/estimate", json={"agent_id": "metered_chat", "input": {}})
    ).json()
    assert found["credits"] is None and found["steps"] == []


async def test_estimating_checks_the_body_as_creating_does(api: httpx.AsyncClient) -> None:
    missing = await api.post("/v1/runs/estimate", json={"agent_id": "nobody"})
    assert missing.status_code == 404
    assert "nobody" in missing.json()["message"]
    bad = await api.post("/v1/runs/estimate", json={"agent_id": "metered_chat", "input": [1]})
    assert bad.status_code == 422
    unnamed = await api.post("/v1/runs/estimate", json={})
    assert unnamed.status_code == 422
