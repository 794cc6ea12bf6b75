"""A/B splits: an agent's new runs shared between two revisions by percentage."""

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from runplane.services.splits import bucket

STEP_AGENT = Path(__file__).resolve().parents[2] / "examples" / "step_agents" / "site_report.json"


async def step_agent(api: httpx.AsyncClient) -> tuple[str, str, str]:
    """A step agent with two revisions, the first published: (name, rev A, rev B)."""
    definition: dict[str, Any] = json.loads(STEP_AGENT.read_text())
    definition["name"] = f"ab-{uuid.uuid4().hex[:6]}"
    made = await api.post("/v1/agents", json=definition)
    assert made.status_code == 201, made.text
    first = made.json()["revision"]["id"]
    published = await api.post(f"/v1/agents/{definition['name']}/revisions/{first}/publish")
    assert published.status_code == 200, published.text
    revised = {**definition, "description": "Revision B."}
    second = await api.post(f"/v1/agents/{definition['name']}/revisions", json=revised)
    assert second.status_code == 201, second.text
    return definition["name"], first, second.json()["id"]


@pytest.mark.database_independent
def test_a_run_ids_bucket_is_reproducible_and_spread_over_0_to_100() -> None:
    ids = [f"run_{i:06d}" for i in range(2000)]
    places = [bucket(i) for i in ids]
    assert places == [bucket(i) for i in ids]
    assert all(0 <= p < 100 for p in places)
    assert 0.27 < sum(p < 30 for p in places) / len(places) < 0.33


@pytest.mark.timeout(180)
async def test_new_runs_follow_the_split_within_a_tolerance(api: httpx.AsyncClient) -> None:
    name, rev_a, rev_b = await step_agent(api)
    put = await api.put(
        f"/v1/agents/{name}/split",
        json={"revision_a": rev_a, "revision_b": rev_b, "percent_b": 30},
    )
    assert put.status_code == 200, put.text
    split = put.json()
    assert split["percent_b"] == 30 and split["started_at"]
    assert (await api.get(f"/v1/agents/{name}/split")).json() == split

    used: list[str] = []
    for _ in range(200):
        # Not waited for: which revision a run uses is decided when it is created.
        made = await api.post(
            "/v1/runs", json={"agent_id": name, "input": {"question": "q"}, "timeout_seconds": 60}
        )
        assert made.status_code == 201, made.text
        used.append(made.json()["revision_id"])
        await api.post(f"/v1/runs/{made.json()['id']}/cancel")
    share_b = used.count(rev_b) / len(used)
    assert set(used) == {rev_a, rev_b}
    assert 0.2 < share_b < 0.4, share_b
    # A run that names its revision is left alone.
    named = await api.post(
        "/v1/runs", json={"agent_id": name, "input": {"question": "q"}, "revision_id": rev_a}
    )
    assert named.json()["revision_id"] == rev_a

    assert (await api.delete(f"/v1/agents/{name}/split")).status_code == 204
    assert (await api.get(f"/v1/agents/{name}/split")).status_code == 404
    after = await api.post("/v1/runs", json={"agent_id": name, "input": {"question": "q"}})
    assert after.json()["revision_id"] == rev_a  # the published one


async def test_a_split_needs_two_runnable_revisions_of_the_agent(api: httpx.AsyncClient) -> None:
    name, rev_a, _ = await step_agent(api)
    missing = await api.put(
        f"/v1/agents/{name}/split",
        json={"revision_a": rev_a, "revision_b": "rev_nope", "percent_b": 50},
    )
    assert missing.status_code == 404 and missing.json()["details"][0]["name"] == "revision_b"
    same = await api.put(
        f"/v1/agents/{name}/split", json={"revision_a": rev_a, "revision_b": rev_a, "percent_b": 5}
    )
    assert same.status_code == 409
    # A code agent runs only the revision of its loaded code.
    revisions = (await api.get("/v1/agents/echo/revisions")).json()["items"]
    current = revisions[0]["id"]
    code = await api.put(
        "/v1/agents/echo/split",
        json={"revision_a": current, "revision_b": "rev_nope", "percent_b": 50},
    )
    assert code.status_code == 404
    bad = await api.put(
        "/v1/agents/echo/split",
        json={"revision_a": current, "revision_b": current, "percent_b": 500},
    )
    assert bad.status_code == 422


async def test_only_admins_split_an_agent(make_client: Any) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    admin, member = await make_client("admin", tenant), await make_client("member", tenant)
    name, rev_a, rev_b = await step_agent(admin)
    body = {"revision_a": rev_a, "revision_b": rev_b, "percent_b": 50}
    refused = await member.put(f"/v1/agents/{name}/split", json=body)
    assert refused.status_code == 403, refused.text
    assert (await member.get(f"/v1/agents/{name}/split")).status_code == 404
