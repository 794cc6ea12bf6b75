"""Agents in code: registration, revisions, publishing."""

import httpx


async def test_code_agents_are_listed_with_their_schemas(api: httpx.AsyncClient) -> None:
    agents = {a["name"]: a for a in (await api.get("/v1/agents")).json()["items"]}
    assert {"echo", "steps", "research", "fail"} <= set(agents)
    steps = agents["steps"]
    assert steps["kind"] == "python" and steps["output"] == "json"
    assert steps["input_schema"]["properties"]["steps"]["type"] == "integer"
    assert agents["research"]["output"] == "document"
    assert steps["published_revision_id"].startswith("rev_")
    assert steps["description"]


async def test_get_agent_by_id_or_name(api: httpx.AsyncClient) -> None:
    by_name = (await api.get("/v1/agents/echo")).json()
    by_id = (await api.get(f"/v1/agents/{by_name['id']}")).json()
    assert by_id == by_name


async def test_each_agent_has_one_published_revision_with_a_hash(api: httpx.AsyncClient) -> None:
    revs = (await api.get("/v1/agents/echo/revisions")).json()["items"]
    assert len(revs) == 1
    rev = revs[0]
    assert rev["stage"] == "published" and len(rev["hash"]) == 64
    assert rev["config"]["entrypoint"] == "examples.agents:echo"


async def test_a_run_names_its_revision_and_agent_records_last_completion(
    api: httpx.AsyncClient,
) -> None:
    rev = (await api.get("/v1/agents/echo/revisions")).json()["items"][0]
    run = (
        await api.post(
            "/v1/runs", json={"agent_id": "echo", "input": {}, "revision_id": rev["id"], "wait": 10}
        )
    ).json()
    assert run["revision_id"] == rev["id"] and run["status"] == "succeeded"
    agent = (await api.get("/v1/agents/echo")).json()
    assert agent["last_completed_at"] is not None


async def test_publishing_an_unknown_revision_is_a_404(api: httpx.AsyncClient) -> None:
    r = await api.post("/v1/agents/echo/revisions/rev_nope/publish")
    assert r.status_code == 404 and r.json()["details"][0]["name"] == "revision_id"


async def test_publish_is_idempotent(api: httpx.AsyncClient) -> None:
    rev = (await api.get("/v1/agents/echo/revisions")).json()["items"][0]
    r = await api.post(f"/v1/agents/echo/revisions/{rev['id']}/publish")
    assert r.status_code == 200 and r.json()["stage"] == "published"
