"""Runs of step agents, offline, end to end: results, overrides, and each run-time failure."""

from typing import Any

import httpx
import sqlalchemy as sa
from tests.step_agents.test_definitions import definition

from runplane.agents.steps import config_hash
from runplane.domain.ids import new_id
from runplane.domain.models import utcnow
from runplane.services.runtime import Runtime
from runplane.store import agents as agents_store
from runplane.store.schema import agents

MEMO = b"Quarterly sales rose 12 percent in March.\nReturns fell to 2 percent.\n"


async def create(api: httpx.AsyncClient, body: dict[str, Any], publish: bool = True) -> dict:
    made = await api.post("/v1/agents", json=body)
    assert made.status_code == 201, made.text
    revision = made.json()["revision"]
    if publish:
        done = await api.post(f"/v1/agents/{body['name']}/revisions/{revision['id']}/publish")
        assert done.status_code == 200, done.text
    return revision


async def run(api: httpx.AsyncClient, **body: Any) -> dict:
    made = await api.post("/v1/runs", json={"wait": 30, **body})
    assert made.status_code == 201, made.text
    return made.json()


async def steps_of(api: httpx.AsyncClient, run_id: str) -> list[dict]:
    return (await api.get(f"/v1/runs/{run_id}/steps")).json()["items"]


async def events_of(api: httpx.AsyncClient, run_id: str, kind: str) -> list[dict]:
    items = (await api.get(f"/v1/runs/{run_id}/events", params={"limit": 200})).json()["items"]
    return [e["data"] for e in items if e["type"] == kind]


async def site_with_memo(api: httpx.AsyncClient) -> str:
    site = (await api.post("/v1/sites", json={"name": "sales"})).json()
    up = await api.post(
        "/v1/files", files={"file": ("memo.txt", MEMO, "text/plain")}, data={"site_id": site["id"]}
    )
    assert up.status_code == 201, up.text
    return str(site["id"])


async def test_the_three_step_example_runs_offline_to_a_json_result(
    api: httpx.AsyncClient,
) -> None:
    await create(api, definition())
    site = await site_with_memo(api)
    done = await run(
        api, agent_id="site-report", input={"question": "How did sales go?"}, site_ids=[site]
    )
    assert done["status"] == "succeeded", done
    assert done["result"]["type"] == "json" and isinstance(done["result"]["content"], dict)
    steps = await steps_of(api, done["id"])
    assert [s["name"] for s in steps] == ["research", "draft", "summary"]
    assert all(s["status"] == "completed" for s in steps)
    chosen = await events_of(api, done["id"], "steps.prepared")
    assert [c["step"] for c in chosen] == ["research", "draft", "summary"]
    # The research step's instructions list the site's file; the draft's hold the research.
    assert "- memo.txt" in chosen[0]["instructions"]
    research = steps[0]["output"]["text"]
    draft = chosen[1].pop("instructions")
    assert research and research in draft and "for the finance team" in draft
    assert chosen[1] == {
        "step": "draft",
        "model": "offline",
        "reasoning_effort": "medium",
        "default": {"model": "offline", "reasoning_effort": "medium"},
        "overridden": False,
        "tools": [],
    }
    assert done["step_overrides"] == {}


async def test_step_overrides_and_variables_are_checked_recorded_and_used(
    api: httpx.AsyncClient,
) -> None:
    await create(api, definition())
    done = await run(
        api,
        agent_id="site-report",
        input={"question": "Sales?"},
        variables={"audience": "the board"},
        step_overrides={"draft": {"model": "gpt-4o-mini", "reasoning_effort": "high"}},
    )
    assert done["status"] == "succeeded", done
    assert done["step_overrides"] == {"draft": {"model": "gpt-4o-mini", "reasoning_effort": "high"}}
    assert done["variables"] == {"audience": "the board"} and done["model"] is None
    chosen = {c["step"]: c for c in await events_of(api, done["id"], "steps.prepared")}
    assert chosen["draft"]["model"] == "gpt-4o-mini" and chosen["draft"]["overridden"]
    assert chosen["draft"]["default"] == {"model": "offline", "reasoning_effort": "medium"}
    assert not chosen["research"]["overridden"]
    assert "for the board" in chosen["draft"]["instructions"]
    assert "at most 5 findings" in chosen["draft"]["instructions"]

    bad: list[tuple[dict[str, Any], str]] = [
        ({"step_overrides": {"polish": {"model": "offline"}}}, "step_overrides.polish"),
        ({"step_overrides": {"draft": {"model": "gpt-nine"}}}, "step_overrides.draft.model"),
        ({"variables": {"max_points": "five"}}, "variables.max_points"),
        ({"variables": {"colour": "red"}}, "variables.colour"),
        ({"model": {"name": "nope-1"}}, "model.name"),
    ]
    for extra, field in bad:
        refused = await api.post(
            "/v1/runs", json={"agent_id": "site-report", "input": {"question": "x"}, **extra}
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["details"][0]["name"] == field
    code = await api.post(
        "/v1/runs",
        json={
            "agent_id": "intent",
            "input": {"intent": "list my notes"},
            "step_overrides": {"x": {"model": "offline"}},
        },
    )
    assert code.status_code == 422 and code.json()["details"][0]["name"] == "step_overrides"


async def test_a_draft_runs_when_named_and_a_run_pins_its_revision(api: httpx.AsyncClient) -> None:
    first = await create(api, definition(), publish=False)
    unpublished = await api.post(
        "/v1/runs", json={"agent_id": "site-report", "input": {"question": "x"}}
    )
    assert unpublished.status_code == 409
    done = await run(api, agent_id="site-report", revision_id=first["id"], input={"question": "x"})
    assert done["status"] == "succeeded" and done["revision_id"] == first["id"]


async def test_a_template_that_fails_to_render_fails_the_run_naming_step_and_variable(
    api: httpx.AsyncClient,
) -> None:
    body = definition()
    body["steps"][1]["instructions"] = "For {{ input.customer.name }}: {{ steps.research.output }}"
    await create(api, body)
    done = await run(api, agent_id="site-report", input={"question": "x"})
    assert done["status"] == "failed"
    assert done["error"]["code"] == "template_error"
    assert "'draft'" in done["error"]["message"] and "customer" in done["error"]["message"]


async def test_json_that_does_not_match_fails_with_the_validation_error_after_one_retry(
    api: httpx.AsyncClient,
) -> None:
    body = definition()
    # Nothing matches this schema, whatever the model answers.
    body["steps"][2]["output"] = {"format": "json", "schema": {"not": {}}, "retry_invalid": True}
    await create(api, body)
    done = await run(api, agent_id="site-report", input={"question": "x"})
    assert done["status"] == "failed"
    assert done["error"]["code"] == "invalid_output"
    assert "'summary'" in done["error"]["message"] and "schema" in done["error"]["message"]
    names = [s["name"] for s in await steps_of(api, done["id"])]
    assert names == ["research", "draft", "summary", "summary (retry)"]

    body = definition(name="no-retry")
    body["steps"][2]["output"] = {"format": "json", "schema": {"not": {}}}
    await create(api, body)
    done = await run(api, agent_id="no-retry", input={"question": "x"})
    assert done["error"]["code"] == "invalid_output"
    assert [s["name"] for s in await steps_of(api, done["id"])][-1] == "summary"


async def test_a_file_output_is_saved_and_named_by_the_result(api: httpx.AsyncClient) -> None:
    body = definition()
    body["steps"] = body["steps"][:2]
    body["steps"][1]["output"] = {"format": "file", "file_name": "report.md"}
    await create(api, body)
    done = await run(api, agent_id="site-report", input={"question": "Sales?"})
    assert done["status"] == "succeeded", done
    assert done["result"]["type"] == "document"
    assert "report.md" in done["result"]["content"]
    files = (await api.get(f"/v1/runs/{done['id']}/files")).json()["items"]
    assert [f["name"] for f in files] == ["report.md"]


async def test_a_model_the_catalogue_no_longer_knows_fails_with_unknown_model(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    await create(api, definition())
    agent = (await api.get("/v1/agents/site-report")).json()
    # A revision saved when its model was known: the catalogue has dropped it since.
    config = (
        await api.get(f"/v1/agents/site-report/revisions/{agent['published_revision_id']}")
    ).json()["config"]
    config["steps"][0]["model"] = "retired-model-1"
    rev_id = new_id("rev")
    async with rt.db.write() as conn:
        query = sa.select(agents.c.tenant_id).where(agents.c.id == agent["id"])
        tenant_id = (await conn.execute(query)).scalar_one()
        await agents_store.insert_revision(
            conn,
            id=rev_id,
            tenant_id=tenant_id,
            agent_id=agent["id"],
            hash=config_hash(config),
            stage="draft",
            config=config,
            created_at=utcnow(),
        )
    done = await run(api, agent_id="site-report", revision_id=rev_id, input={"question": "x"})
    assert done["status"] == "failed"
    assert done["error"]["code"] == "unknown_model"
    assert (
        "'research'" in done["error"]["message"] and "retired-model-1" in done["error"]["message"]
    )


async def test_a_rerun_from_the_last_step_reuses_the_others_and_keeps_the_overrides(
    api: httpx.AsyncClient,
) -> None:
    await create(api, definition())
    overrides = {"summary": {"model": "gpt-4o-mini"}}
    first = await run(
        api, agent_id="site-report", input={"question": "Sales?"}, step_overrides=overrides
    )
    assert first["status"] == "succeeded", first
    again = await api.post(f"/v1/runs/{first['id']}/rerun", json={"from_step": 3, "wait": 30})
    assert again.status_code == 201, again.text
    rerun = again.json()
    assert rerun["status"] == "succeeded" and rerun["step_overrides"] == overrides
    steps = await steps_of(api, rerun["id"])
    assert [s["status"] for s in steps] == ["reused", "reused", "completed"]
    assert steps[0]["output"] == (await steps_of(api, first["id"]))[0]["output"]
    copy = await api.post(
        f"/v1/runs/{first['id']}/duplicate", json={"variables": {"audience": "sales"}, "wait": 30}
    )
    assert copy.status_code == 201, copy.text
    assert copy.json()["step_overrides"] == overrides
    assert copy.json()["variables"] == {"audience": "sales"}


async def test_a_step_offers_the_model_only_the_tools_the_run_allows(
    api: httpx.AsyncClient,
) -> None:
    body = definition()
    body["steps"][0]["tools"] = ["list_events", "read_notes"]
    await create(api, body)
    both = await run(
        api, agent_id="site-report", input={"question": "x"}, integrations=["calendar", "notes"]
    )
    assert both["status"] == "succeeded", both
    offered = (await events_of(api, both["id"], "steps.prepared"))[0]["tools"]
    assert sorted(offered) == ["list_events", "read_notes"]
    narrow = await run(api, agent_id="site-report", input={"question": "x"}, integrations=["notes"])
    assert (await events_of(api, narrow["id"], "steps.prepared"))[0]["tools"] == ["read_notes"]


async def test_the_definitions_approval_rules_apply_to_its_runs(api: httpx.AsyncClient) -> None:
    body = definition(approval_rules=[{"tool": "list_events", "when": 'day == "monday"'}])
    await create(api, body)
    done = await run(api, agent_id="site-report", input={"question": "x"})
    assert done["approval_rules"] == [{"tool": "list_events", "when": 'day == "monday"'}]


async def test_instructions_render_the_files_text_in_a_loop(api: httpx.AsyncClient) -> None:
    body = definition()
    body["steps"][0]["instructions"] = (
        "{% for f in files %}{{ loop.index }}. {{ f.name }}: {{ f.text | truncate(30) }}"
        "{% endfor %} for {{ variables['audience'] }}"
    )
    await create(api, body)
    site = await site_with_memo(api)
    done = await run(api, agent_id="site-report", input={"question": "x"}, site_ids=[site])
    assert done["status"] == "succeeded", done
    research = (await events_of(api, done["id"], "steps.prepared"))[0]["instructions"]
    assert (
        research.startswith("1. memo.txt: Quarterly sales rose") and "the finance team" in research
    )
