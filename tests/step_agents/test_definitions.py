"""Step agents over HTTP: created, revised, read, published; each bad definition a 422."""

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "step_agents" / "site_report.json"


def definition(**changes: Any) -> dict[str, Any]:
    """The example three-step agent, with some top-level fields changed."""
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    data.update(changes)
    return data


def with_step(index: int, **changes: Any) -> dict[str, Any]:
    """The example with one step's fields changed."""
    data = definition()
    data["steps"][index].update(changes)
    return data


async def test_an_agent_is_created_as_a_draft_revised_read_and_published(
    api: httpx.AsyncClient,
) -> None:
    made = await api.post("/v1/agents", json=definition())
    assert made.status_code == 201, made.text
    agent, first = made.json()["agent"], made.json()["revision"]
    assert agent["kind"] == "steps" and agent["name"] == "site-report"
    assert agent["published_revision_id"] is None and first["stage"] == "draft"
    assert [s["name"] for s in first["config"]["steps"]] == ["research", "draft", "summary"]
    assert first["config"]["output"] == "json"
    assert first["config"]["steps"][2]["output"]["schema"]["type"] == "object"

    same = await api.post(f"/v1/agents/{agent['id']}/revisions", json=definition())
    assert same.status_code == 201 and same.json()["id"] == first["id"]
    changed = definition(description="Another description.")
    second = (await api.post("/v1/agents/site-report/revisions", json=changed)).json()
    assert second["id"] != first["id"] and second["stage"] == "draft"

    got = await api.get(f"/v1/agents/site-report/revisions/{first['id']}")
    assert got.status_code == 200 and got.json()["config"] == first["config"]
    listed = (await api.get("/v1/agents/site-report/revisions")).json()["items"]
    assert [r["id"] for r in listed] == [second["id"], first["id"]]

    published = await api.post(f"/v1/agents/site-report/revisions/{second['id']}/publish")
    assert published.status_code == 200 and published.json()["stage"] == "published"
    shown = (await api.get("/v1/agents/site-report")).json()
    assert shown["published_revision_id"] == second["id"]
    assert shown["description"] == "Another description." and shown["output"] == "json"
    assert shown["input_schema"]["required"] == ["question"]


async def test_a_taken_name_and_a_code_agents_name_are_refused(api: httpx.AsyncClient) -> None:
    assert (await api.post("/v1/agents", json=definition())).status_code == 201
    again = await api.post("/v1/agents", json=definition())
    assert again.status_code == 409 and again.json()["details"][0]["name"] == "name"
    code = await api.post("/v1/agents", json=definition(name="intent"))
    assert code.status_code == 409
    revise_code = await api.post("/v1/agents/intent/revisions", json=definition(name="intent"))
    assert revise_code.status_code == 409
    renamed = await api.post("/v1/agents/site-report/revisions", json=definition(name="other"))
    assert renamed.status_code == 422 and renamed.json()["details"][0]["name"] == "name"
    missing = await api.get("/v1/agents/site-report/revisions/rev_nope")
    assert missing.status_code == 404


async def test_a_member_may_not_create_step_agents(make_client: Any) -> None:
    reader = await make_client("member")
    refused = await reader.post("/v1/agents", json=definition())
    assert refused.status_code == 403


BAD: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "unknown variable",
        with_step(1, instructions="For {{ variables.reader }}: {{ steps.research.output }}"),
        "steps[1].instructions",
        "unknown variable 'variables.reader'",
    ),
    (
        "unknown top-level name",
        with_step(0, instructions="Look at {{ site }}"),
        "steps[0].instructions",
        "unknown variable 'site'",
    ),
    (
        "a later step's output",
        with_step(0, instructions="{{ steps.summary.output }}"),
        "steps[0].instructions",
        "'steps.summary'",
    ),
    (
        "template that does not parse",
        with_step(2, instructions="{% for x in %}"),
        "steps[2].instructions",
        "do not parse",
    ),
    ("unknown tool", with_step(0, tools=["no_such_tool"]), "steps[0].tools", "'no_such_tool'"),
    ("unknown step model", with_step(1, model="gpt-nine"), "steps[1].model", "'gpt-nine'"),
    (
        "unknown agent model",
        definition(model={"name": "nope-1"}),
        "model.name",
        "unknown model 'nope-1'",
    ),
    (
        "invalid JSON Schema",
        with_step(2, output={"format": "json", "schema": {"type": "thing"}}),
        "steps[2].output.schema",
        "not a valid JSON Schema",
    ),
    (
        "invalid input schema",
        definition(input_schema={"type": 12}),
        "input_schema",
        "not a valid JSON Schema",
    ),
    ("duplicate step names", with_step(1, name="research"), "steps[1].name", "two steps"),
    (
        "file output without a name",
        with_step(1, output={"format": "file"}),
        "steps[1].output.file_name",
        "file_name",
    ),
    (
        "default of the wrong type",
        definition(variables={"max_points": {"type": "integer", "default": "five"}}),
        "variables.max_points.default",
        "integer",
    ),
    ("bad step name", with_step(0, name="re search"), "steps.0.name", "pattern"),
    (
        "approval rule that does not parse",
        definition(approval_rules=[{"tool": "list_events", "when": "amount >>> 3"}]),
        "approval_rules.when",
        "amount >>> 3",
    ),
    ("no steps", definition(steps=[]), "steps", "at least 1"),
]


@pytest.mark.parametrize(("case", "body", "field", "says"), BAD, ids=[b[0] for b in BAD])
async def test_a_bad_definition_is_a_422_naming_the_field(
    api: httpx.AsyncClient, case: str, body: dict[str, Any], field: str, says: str
) -> None:
    refused = await api.post("/v1/agents", json=copy.deepcopy(body))
    assert refused.status_code == 422, refused.text
    error = refused.json()
    assert error["details"][0]["name"] == field, error
    assert says in error["message"], error
    assert (await api.get("/v1/agents/site-report")).status_code == 404


async def test_templates_may_use_loops_sets_filters_and_item_lookups(
    api: httpx.AsyncClient,
) -> None:
    instructions = (
        "{% set q = input.question | upper %}{{ q }}\n"
        "{% for f in files %}{{ loop.index }}. {{ f.name }}: {{ f.text | truncate(50) }}\n"
        "{% endfor %}{{ variables['audience'] }} {{ range(3) | list }}"
    )
    made = await api.post("/v1/agents", json=with_step(0, instructions=instructions))
    assert made.status_code == 201, made.text
    item = with_step(1, instructions="{{ steps['research'].output }} {{ variables['nope'] }}")
    refused = await api.post("/v1/agents", json=item | {"name": "other"})
    assert refused.status_code == 422 and "variables.nope" in refused.json()["message"]
