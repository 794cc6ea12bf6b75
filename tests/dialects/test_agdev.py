"""ag.dev v0.1 at /agdev/v0.1: its runs, events, agents and revisions over runplane's."""

import asyncio
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from runplane.testing.server import create_key

BASE = "/agdev/v0.1"
# The seed document's two curl bodies, byte for byte; curl's -d sends them as a form.
CURL_PUBLISHED = """{"input": {"topic": "AI in healthcare"}}"""
CURL_REVISION = """{
        "revisionId": "{revisionId}",
        "input": {"topic": "AI in healthcare"}
      }"""
CURL_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


async def start(api: httpx.AsyncClient, agent: str, input: object) -> dict[str, Any]:
    r = await api.post(f"{BASE}/agents/{agent}/runs", json={"input": input})
    assert r.status_code == 201, r.text
    return r.json()


async def poll(api: httpx.AsyncClient, run: dict[str, Any], seconds: float = 20) -> dict[str, Any]:
    """The run, read as an ag.dev client does, until it is done or in error."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        r = await api.get(f"{BASE}/agents/{run['agentId']}/runs/{run['id']}")
        assert r.status_code == 200, r.text
        seen = r.json()
        if seen["status"] in ("done", "error"):
            return seen
        assert asyncio.get_running_loop().time() < deadline, seen
        await asyncio.sleep(0.05)


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


async def test_the_seed_curl_body_runs_the_published_revision(api: httpx.AsyncClient) -> None:
    agent = (await api.get(f"{BASE}/agents/echo")).json()
    r = await api.post(f"{BASE}/agents/echo/runs", content=CURL_PUBLISHED, headers=CURL_HEADERS)
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["status"] in ("pending", "running", "done") and "error" not in run
    assert run["id"].startswith("run_") and run["agentId"] == agent["id"]
    assert run["revisionId"] == agent["publishedRevisionId"]
    assert run["input"] == {"topic": "AI in healthcare"}
    assert run["createdAt"] and run["updatedAt"]
    if run["status"] != "done":
        assert run["resultType"] is None and run["resultData"] is None
    done = await poll(api, run)
    assert done["status"] == "done" and "error" not in done
    assert done["resultType"] == "json"
    assert done["resultData"] == {"result": {"topic": "AI in healthcare"}, "sources": []}


async def test_the_seed_curl_body_with_a_revision_id_runs_that_revision(
    api: httpx.AsyncClient,
) -> None:
    rev = (await api.get(f"{BASE}/agents/echo/revisions")).json()[0]
    body = CURL_REVISION.replace("{revisionId}", rev["id"])
    r = await api.post(f"{BASE}/agents/echo/runs", content=body, headers=CURL_HEADERS)
    assert r.status_code == 201, r.text
    assert r.json()["revisionId"] == rev["id"]
    assert (await poll(api, r.json()))["status"] == "done"
    unknown = CURL_REVISION.replace("{revisionId}", "rev_nope")
    r = await api.post(f"{BASE}/agents/echo/runs", content=unknown, headers=CURL_HEADERS)
    error = assert_error(r, 404, "not_found")
    assert error["details"] == [{"name": "revisionId", "value": "rev_nope"}]


async def test_a_done_document_run_has_its_text_and_sources(api: httpx.AsyncClient) -> None:
    run = await start(api, "research", {"question": "How do durable workflows recover?"})
    done = await poll(api, run)
    assert done["status"] == "done" and done["resultType"] == "document"
    assert isinstance(done["resultData"]["result"], str) and done["resultData"]["result"]
    sources = done["resultData"]["sources"]
    assert sources and all(set(s) == {"url", "title"} for s in sources)
    assert all(s["url"].startswith("corpus://") and s["title"] for s in sources)


async def test_a_failed_run_is_an_error_with_code_and_message(api: httpx.AsyncClient) -> None:
    done = await poll(api, await start(api, "fail", {}))
    assert done["status"] == "error"
    assert done["error"] == {
        "code": "example_failure",
        "message": "the fail agent always fails after its first step",
    }
    assert done["resultType"] is None and done["resultData"] is None


async def test_a_canceled_run_is_an_error_too(api: httpx.AsyncClient) -> None:
    run = await start(api, "steps", {"steps": 50, "sleep": 0.2})
    r = await api.post(f"/v1/runs/{run['id']}/cancel")
    assert r.status_code == 202, r.text
    done = await poll(api, run)
    assert done["status"] == "error" and done["error"]["code"] == "canceled"


async def test_input_is_checked_against_the_agents_input_schema(api: httpx.AsyncClient) -> None:
    r = await api.post(f"{BASE}/agents/research/runs", json={"input": {"question": 42}})
    error = assert_error(r, 422, "invalid")
    assert error["details"][0]["name"] == "input.question"
    r = await api.post(f"{BASE}/agents/steps/runs", json={"input": {"steps": 0}})
    assert assert_error(r, 422, "invalid")["details"][0]["name"] == "input.steps"
    # The raw input, unwrapped, is refused with a pointer to "input".
    r = await api.post(f"{BASE}/agents/echo/runs", json={"topic": "AI in healthcare"})
    error = assert_error(r, 422, "invalid")
    assert error["details"] == [{"name": "topic", "value": "AI in healthcare"}]
    assert '"input"' in error["message"]
    r = await api.post(f"{BASE}/agents/echo/runs", json={"input": ["not", "an", "object"]})
    assert assert_error(r, 422, "invalid")["details"][0]["name"] == "input"
    r = await api.post(f"{BASE}/agents/echo/runs", content=b"{nope", headers=CURL_HEADERS)
    assert_error(r, 400, "bad_request")


async def test_events_are_planning_reasoning_and_finished_tool_calls(
    api: httpx.AsyncClient,
) -> None:
    run = await poll(api, await start(api, "research", {"question": "What is BM25 ranking?"}))
    r = await api.get(f"{BASE}/agents/research/runs/{run['id']}/events", params={"limit": 100})
    assert r.status_code == 200, r.text
    events = r.json()
    types = [e["type"] for e in events]
    assert types[0] == "planning" and "reasoning" in types and "tool_call" in types
    assert set(types) <= {"planning", "reasoning", "tool_call", "context_compression"}
    assert all(e["runId"] == run["id"] and e["id"] and e["startedAt"] for e in events)
    assert len({e["id"] for e in events}) == len(events)
    plan = events[0]["data"]
    assert plan["format"] == "json" and len(plan["content"]) == 4
    call = next(e for e in events if e["type"] == "tool_call")
    assert call["data"]["name"] == "search_corpus" and call["data"]["arguments"]["top_k"]
    assert call["data"]["result"]["ok"] is True and call["data"]["result"]["output"]
    assert call["finishedAt"] >= call["startedAt"]
    page = (
        await api.get(
            f"{BASE}/agents/research/runs/{run['id']}/events", params={"limit": 2, "offset": 1}
        )
    ).json()
    assert page == events[1:3]
    r = await api.get(f"{BASE}/agents/research/runs/{run['id']}/events", params={"limit": 101})
    assert_error(r, 422, "invalid")


async def test_an_agents_runs_are_listed_newest_first_by_limit_and_offset(
    api: httpx.AsyncClient,
) -> None:
    made = [(await start(api, "echo", {"n": n}))["id"] for n in range(3)]
    await start(api, "fail", {})
    listed = (await api.get(f"{BASE}/agents/echo/runs")).json()
    assert [r["id"] for r in listed] == made[::-1]
    first = (await api.get(f"{BASE}/agents/echo/runs", params={"limit": 2})).json()
    rest = (await api.get(f"{BASE}/agents/echo/runs", params={"limit": 2, "offset": 2})).json()
    assert [r["id"] for r in first + rest] == made[::-1]
    assert (await api.get(f"{BASE}/agents/echo/runs", params={"offset": 3})).json() == []
    r = await api.get(f"{BASE}/agents/echo/runs", params={"offset": -1})
    assert_error(r, 422, "invalid")


async def test_an_agent_in_agdev_shape_and_its_revisions(api: httpx.AsyncClient) -> None:
    agent = (await api.get(f"{BASE}/agents/research")).json()
    assert agent["name"] == "research" and agent["id"].startswith("agt_")
    assert agent["resultType"] == "document" and agent["isActive"] is True
    assert agent["inputSchema"]["properties"]["question"]
    assert (await api.get(f"{BASE}/agents/{agent['id']}")).json() == agent
    assert "research" in [a["name"] for a in (await api.get(f"{BASE}/agents")).json()]
    revs = (await api.get(f"{BASE}/agents/research/revisions")).json()
    assert len(revs) == 1 and revs[0]["agentId"] == agent["id"] and revs[0]["createdAt"]
    assert revs[0]["published"] is True and revs[0]["id"] == agent["publishedRevisionId"]
    r = await api.post(f"{BASE}/agents/research/revisions/{revs[0]['id']}/publish")
    assert r.status_code == 200 and r.json()["published"] is True
    r = await api.post(f"{BASE}/agents/research/revisions/rev_nope/publish")
    assert_error(r, 404, "not_found")


async def test_agents_are_not_created_or_changed_over_this_api(api: httpx.AsyncClient) -> None:
    r = await api.post(f"{BASE}/agents", json={"name": "new", "goalPrompt": "x"})
    assert assert_error(r, 405, "agents_defined_in_code")["message"].startswith(
        "agents are defined in code"
    )
    r = await api.patch(f"{BASE}/agents/echo", json={"description": "x"})
    assert_error(r, 405, "agents_defined_in_code")


async def test_both_key_headers_work_and_a_missing_key_is_a_401(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    key = api.headers["Authorization"].removeprefix("Bearer ")
    by_bearer = await anonymous.get(
        f"{BASE}/agents/echo", headers={"Authorization": f"Bearer {key}"}
    )
    by_api_key = await anonymous.get(f"{BASE}/agents/echo", headers={"X-API-Key": key})
    assert by_bearer.status_code == by_api_key.status_code == 200
    assert by_bearer.json() == by_api_key.json()
    assert_error(await anonymous.get(f"{BASE}/agents/echo"), 401, "unauthorized")
    r = await anonymous.post(f"{BASE}/agents/echo/runs", json={"input": {}})
    assert_error(r, 401, "unauthorized")
    r = await anonymous.get(f"{BASE}/agents/echo", headers={"X-API-Key": "sk_wrong"})
    assert_error(r, 401, "unauthorized")


async def test_unknown_agents_runs_and_paths_are_404s_in_the_same_model(
    api: httpx.AsyncClient,
) -> None:
    error = assert_error(await api.get(f"{BASE}/agents/nobody"), 404, "not_found")
    assert error["details"] == [{"name": "agentId", "value": "nobody"}]
    assert_error(await api.post(f"{BASE}/agents/nobody/runs", json={"input": {}}), 404, "not_found")
    error = assert_error(await api.get(f"{BASE}/agents/echo/runs/run_nope"), 404, "not_found")
    assert error["details"] == [{"name": "runId", "value": "run_nope"}]
    assert_error(await api.get(f"{BASE}/agents/echo/runs/run_nope/events"), 404, "not_found")
    assert_error(await api.get(f"{BASE}/nothing/here"), 404, "not_found")
    run = await start(api, "fail", {})
    # A run is found under its own agent only.
    assert_error(await api.get(f"{BASE}/agents/echo/runs/{run['id']}"), 404, "not_found")


async def test_runs_are_the_same_runs_natively_and_here(api: httpx.AsyncClient) -> None:
    here = await poll(api, await start(api, "echo", {"topic": "AI in healthcare"}))
    native = (await api.get(f"/v1/runs/{here['id']}")).json()
    assert native["status"] == "succeeded" and native["revision_id"] == here["revisionId"]
    assert native["result"]["content"] == here["resultData"]["result"]
    made = await api.post("/v1/runs", json={"agent_id": "echo", "input": {"a": 1}, "wait": 10})
    assert made.status_code == 201, made.text
    seen = (await api.get(f"{BASE}/agents/echo/runs/{made.json()['id']}")).json()
    assert seen["status"] == "done" and seen["resultData"]["result"] == {"a": 1}
    assert seen["agentId"] == made.json()["agent_id"]


async def test_a_runs_hidden_context_shows_nowhere_here(make_client: Callable[..., Any]) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    admin, member = await make_client(tenant=tenant), await make_client("member", tenant)
    made = await admin.post(
        "/v1/runs",
        json={"agent_id": "echo", "input": {"a": 1}, "context": {"secret": "s3cr3t"}, "wait": 10},
    )
    assert made.status_code == 201 and made.json()["context"] == {"secret": "s3cr3t"}
    run_id = made.json()["id"]
    for client in (admin, member):
        for path in (
            f"agents/echo/runs/{run_id}",
            "agents/echo/runs",
            f"agents/echo/runs/{run_id}/events",
        ):
            r = await client.get(f"{BASE}/{path}")
            assert r.status_code == 200, r.text
            assert "s3cr3t" not in r.text and "context" not in r.text


AGENTS = '''
from runplane import agent


@agent(input_schema={"type": "object", "required": ["topic"],
                     "properties": {"topic": {"type": "string"}}}, output="json")
async def brief(ctx, input):
    """Write a brief on a topic."""
    return {"brief": "About " + input["topic"]}
'''


def test_no_published_revision_is_a_409_until_a_draft_is_published(
    start_server: Callable[..., Any], tmp_path: Path
) -> None:
    (tmp_path / "brief_agents.py").write_text(AGENTS)
    (tmp_path / "runplane.toml").write_text(
        textwrap.dedent("""
        [project]
        name = "briefs"
        publish = "manual"
        modules = ["brief_agents"]
        """)
    )
    server = start_server(project=tmp_path / "runplane.toml", env={"RUNPLANE_DB_CONNECTIONS": "8"})
    key = create_key(server.database_url, tenant="briefs")
    with httpx.Client(base_url=server.url + BASE, headers={"X-API-Key": key}, timeout=30) as api:
        r = api.post("/agents/brief/runs", content=CURL_PUBLISHED, headers=CURL_HEADERS)
        error = assert_error(r, 409, "no_published_revision")
        assert error["details"] == [{"name": "agentId", "value": "brief"}]
        (draft,) = api.get("/agents/brief/revisions").json()
        assert (
            draft["published"] is False
            and api.get("/agents/brief").json()["publishedRevisionId"] is None
        )
        body = CURL_REVISION.replace("{revisionId}", draft["id"])
        r = api.post("/agents/brief/runs", content=body, headers=CURL_HEADERS)
        assert r.status_code == 201, r.text
        assert r.json()["revisionId"] == draft["id"]
        published = api.post(f"/agents/brief/revisions/{draft['id']}/publish").json()
        assert published["published"] is True and published["publishedAt"]
        r = api.post("/agents/brief/runs", content=CURL_PUBLISHED, headers=CURL_HEADERS)
        assert r.status_code == 201, r.text
        run = r.json()
        for _ in range(400):
            run = api.get(f"/agents/brief/runs/{run['id']}").json()
            if run["status"] in ("done", "error"):
                break
            time.sleep(0.05)
        assert run["status"] == "done", run
        assert run["resultData"] == {"result": {"brief": "About AI in healthcare"}, "sources": []}
        assert [r["revisionId"] for r in api.get("/agents/brief/runs").json()] == [
            draft["id"],
            draft["id"],
        ]


async def test_the_dialect_documents_itself_apart_from_the_native_api(
    anonymous: httpx.AsyncClient,
) -> None:
    spec = (await anonymous.get(f"{BASE}/openapi.json")).json()
    assert spec["servers"] == [{"url": "http://runplane.test"}]
    assert set(spec["paths"]) == {
        f"{BASE}/agents",
        f"{BASE}/agents/{{agent_id}}",
        f"{BASE}/agents/{{agent_id}}/revisions",
        f"{BASE}/agents/{{agent_id}}/revisions/{{revision_id}}/publish",
        f"{BASE}/agents/{{agent_id}}/runs",
        f"{BASE}/agents/{{agent_id}}/runs/{{run_id}}",
        f"{BASE}/agents/{{agent_id}}/runs/{{run_id}}/events",
    }
    create = spec["paths"][f"{BASE}/agents/{{agent_id}}/runs"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {"input", "revisionId"}
    assert create["responses"]["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    native = (await anonymous.get("/openapi.json")).json()
    assert not [p for p in native["paths"] if p.startswith(BASE)]


async def test_an_input_that_cannot_be_stored_is_a_422_naming_input(api: httpx.AsyncClient) -> None:
    r = await api.post(f"{BASE}/agents/echo/runs", json={"input": {"n": [2**70]}})
    error = assert_error(r, 422, "invalid")
    assert error["details"][0]["name"] == "input" and "64 bits" in error["message"]


async def test_a_run_waiting_for_approval_is_running_here(api: httpx.AsyncClient) -> None:
    made = await api.post(
        "/v1/runs",
        json={
            "agent_id": "research",
            "input": {"question": "What is BM25?"},
            "approval": "ON_START",
        },
    )
    assert made.status_code == 201 and made.json()["status"] == "paused", made.text
    seen = (await api.get(f"{BASE}/agents/research/runs/{made.json()['id']}")).json()
    assert seen["status"] == "running" and "error" not in seen and seen["resultData"] is None
    await api.post(f"/v1/runs/{made.json()['id']}/cancel")
