"""The replay gate: a draft judged on replays of production runs before it is published."""

import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.timeout(120)

QUESTIONS = ["What is a write-ahead log?", "Why batch commits?", "What does fsync promise?"]


def definition(name: str, instructions: str, description: str = "Answers briefly.") -> dict:
    """A one-step agent: the offline model answers what its instructions ask."""
    return {
        "name": name,
        "kind": "steps",
        "description": description,
        "input_schema": {
            "type": "object",
            "required": ["question"],
            "properties": {"question": {"type": "string"}},
        },
        "model": {"name": "offline"},
        "steps": [
            {"name": "answer", "instructions": instructions, "output": {"format": "markdown"}}
        ],
    }


GOOD = "Answer in one short paragraph: {{ input.question }}"
REGRESSED = "Ignore the question and write a limerick about databases, then {{ input.question }}"


async def gated_agent(api: httpx.AsyncClient, required: bool = True) -> tuple[str, str]:
    """A published step agent with production runs and a gate benchmark: (name, revision)."""
    name = f"gated-{uuid.uuid4().hex[:6]}"
    made = await api.post("/v1/agents", json=definition(name, GOOD))
    assert made.status_code == 201, made.text
    first = made.json()["revision"]["id"]
    assert (await api.post(f"/v1/agents/{name}/revisions/{first}/publish")).status_code == 200
    for question in QUESTIONS:
        done = await api.post(
            "/v1/runs", json={"agent_id": name, "input": {"question": question}, "wait": 30}
        )
        assert done.json()["status"] == "succeeded", done.text
    gate = {"required": required, "thresholds": {"exact": 1.0}, "replay_runs": 5}
    bench = await api.post(
        "/v1/benchmarks",
        json={"agent_id": name, "name": "gate", "scorers": [{"type": "exact"}], "gate": gate},
    )
    assert bench.status_code == 201, bench.text
    return name, first


async def draft(api: httpx.AsyncClient, name: str, instructions: str, **extra: Any) -> str:
    made = await api.post(
        f"/v1/agents/{name}/revisions", json=definition(name, instructions, **extra)
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def gate_of(api: httpx.AsyncClient, name: str, revision: str) -> dict:
    """The revision's gate once it has finished."""
    for _ in range(600):
        got = await api.get(f"/v1/agents/{name}/revisions/{revision}/gate")
        assert got.status_code == 200, got.text
        if got.json()["status"] != "running":
            return dict(got.json())
        await _sleep()
    raise AssertionError("the gate did not finish")


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.05)


async def test_a_regressed_draft_fails_its_gate_and_its_publish_is_refused(
    api: httpx.AsyncClient,
) -> None:
    name, published = await gated_agent(api)
    regressed = await draft(api, name, REGRESSED)

    started = await api.post(f"/v1/agents/{name}/revisions/{regressed}/gate")
    assert started.status_code == 202, started.text
    assert started.json()["kind"] == "replay" and started.json()["case_count"] == 3
    suite = await gate_of(api, name, regressed)
    assert suite["passed"] is False
    assert suite["summary"]["scorers"]["exact"]["pass_rate"] == 0.0

    refused = await api.post(f"/v1/agents/{name}/revisions/{regressed}/publish")
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert "replay gate" in body["message"] and "failed" in body["message"]
    [report] = body["details"]
    assert report["name"] == "gate" and report["value"]["suite_id"] == suite["id"]
    assert report["value"]["pass_rates"] == {"exact": 0.0}
    assert report["value"]["failed_thresholds"][0]["scorer"] == "exact"
    agent = (await api.get(f"/v1/agents/{name}")).json()
    assert agent["published_revision_id"] == published

    # The side-by-side view: each replay's run and the run it re-enacted.
    results = await api.get(f"/v1/benchmarks/{suite['benchmark_id']}/runs/{suite['id']}/results")
    assert results.status_code == 200, results.text
    rows = results.json()["items"]
    assert len(rows) == 3 and all(r["kind"] == "replay" for r in rows)
    for row in rows:
        assert row["reference_run_id"] and row["run_id"] and row["divergences"] == []
        assert row["diff"]["equal"] is False
        replayed = (await api.get(f"/v1/runs/{row['run_id']}")).json()
        assert replayed["replay_of"] == row["reference_run_id"]
        assert replayed["revision_id"] == regressed


async def test_a_draft_that_answers_the_same_passes_and_publishes(api: httpx.AsyncClient) -> None:
    name, _ = await gated_agent(api)
    same = await draft(api, name, GOOD, description="Same answers, new words.")

    done = await api.post(f"/v1/agents/{name}/revisions/{same}/publish")

    assert done.status_code == 200, done.text
    assert done.json()["stage"] == "published"
    suite = await gate_of(api, name, same)
    assert suite["passed"] is True and suite["summary"]["scorers"]["exact"]["pass_rate"] == 1.0
    rows = (await api.get("/v1/governance/activity", params={"limit": 50})).json()["items"]
    published = [r for r in rows if r["action"] == "revision.published"]
    assert published[0]["data"]["gate_suite_id"] == suite["id"]
    assert published[0]["data"]["gate_passed"] is True
    assert any(r["action"] == "gate.started" for r in rows)


async def test_an_admin_publishes_over_a_failing_gate_with_a_recorded_reason(
    make_client: Any,
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    admin, member = await make_client("admin", tenant), await make_client("member", tenant)
    name, _ = await gated_agent(admin)
    regressed = await draft(admin, name, REGRESSED)
    refused = await admin.post(f"/v1/agents/{name}/revisions/{regressed}/publish")
    assert refused.status_code == 409
    suite_id = refused.json()["details"][0]["value"]["suite_id"]

    by_member = await member.post(
        f"/v1/agents/{name}/revisions/{regressed}/publish", json={"override_reason": "hotfix"}
    )
    assert by_member.status_code == 403
    done = await admin.post(
        f"/v1/agents/{name}/revisions/{regressed}/publish",
        json={"override_reason": "hotfix for the outage"},
    )

    assert done.status_code == 200, done.text
    rows = (await admin.get("/v1/governance/activity", params={"limit": 50})).json()["items"]
    published = [r for r in rows if r["action"] == "revision.published"][0]["data"]
    assert published["gate_overridden"] is True
    assert published["override_reason"] == "hotfix for the outage"
    assert published["gate_suite_id"] == suite_id


async def test_a_gate_needs_a_gate_benchmark_and_runs_to_replay(api: httpx.AsyncClient) -> None:
    name = f"ungated-{uuid.uuid4().hex[:6]}"
    made = await api.post("/v1/agents", json=definition(name, GOOD))
    first = made.json()["revision"]["id"]
    no_gate = await api.post(f"/v1/agents/{name}/revisions/{first}/gate")
    assert no_gate.status_code == 409 and "no gate" in no_gate.json()["message"]
    gate = {"required": True, "thresholds": {"exact": 1.0}}
    bench = await api.post(
        "/v1/benchmarks",
        json={"agent_id": name, "name": "gate", "scorers": [{"type": "exact"}], "gate": gate},
    )
    nothing = await api.post(f"/v1/agents/{name}/revisions/{first}/gate")
    assert nothing.status_code == 409 and "no succeeded run" in nothing.json()["message"]
    assert (await api.get(f"/v1/agents/{name}/revisions/{first}/gate")).status_code == 404
    # A new agent's first publish has nothing to replay: the gate cannot hold it back.
    first_publish = await api.post(f"/v1/agents/{name}/revisions/{first}/publish")
    assert first_publish.status_code == 200, first_publish.text
    # A gate switched off is no gate.
    off = await api.patch(f"/v1/benchmarks/{bench.json()['id']}", json={"gate": None})
    assert off.status_code == 200 and off.json()["gate"] is None
    again = await api.post(f"/v1/agents/{name}/revisions/{first}/gate")
    assert again.status_code == 409 and "no gate" in again.json()["message"]


def noter(name: str, day: str, description: str = "Notes questions down.") -> dict:
    """A one-step agent whose step may call ``add_note`` (the offline model does)."""
    made = definition(name, f"Add a note.\ntext: {{{{ input.question }}}}\nday: {day}")
    made["description"] = description
    made["steps"][0]["tools"] = ["add_note"]
    made["integrations"] = ["notes"]
    return made


async def notes_written(api: httpx.AsyncClient) -> int:
    read = await api.post(
        "/v1/runs",
        json={
            "agent_id": "call_tools",
            "input": {"calls": [{"tool": "read_notes", "arguments": {"day": "Monday"}}]},
            "wait": 30,
        },
    )
    return len(read.json()["result"]["content"]["results"][0]["output"])


async def test_a_step_agents_gate_replays_its_tool_calls_and_reports_new_ones(
    api: httpx.AsyncClient,
) -> None:
    name = f"noter-{uuid.uuid4().hex[:6]}"
    made = await api.post("/v1/agents", json=noter(name, "Monday"))
    assert made.status_code == 201, made.text
    first = made.json()["revision"]["id"]
    await api.post(f"/v1/agents/{name}/revisions/{first}/publish")
    for question in QUESTIONS[:2]:
        done = await api.post(
            "/v1/runs", json={"agent_id": name, "input": {"question": question}, "wait": 30}
        )
        assert done.json()["status"] == "succeeded", done.text
    noted = await notes_written(api)
    assert noted >= 2  # the production runs' add_note calls were made
    gate = {"thresholds": {"exact": 1.0}}
    bench = await api.post(
        "/v1/benchmarks",
        json={"agent_id": name, "name": "gate", "scorers": [{"type": "exact"}], "gate": gate},
    )
    assert bench.status_code == 201, bench.text
    same = await api.post(
        f"/v1/agents/{name}/revisions", json=noter(name, "Monday", "Reworded description.")
    )
    other_day = await api.post(f"/v1/agents/{name}/revisions", json=noter(name, "Tuesday"))

    await api.post(f"/v1/agents/{name}/revisions/{same.json()['id']}/gate")
    passed = await gate_of(api, name, same.json()["id"])
    await api.post(f"/v1/agents/{name}/revisions/{other_day.json()['id']}/gate")
    diverged = await gate_of(api, name, other_day.json()["id"])

    assert passed["passed"] is True, passed
    assert diverged["passed"] is False, diverged
    # Not one note more: the replays' add_note calls were answered, not made.
    assert await notes_written(api) == noted
    path = f"/v1/benchmarks/{bench.json()['id']}/runs/{diverged['id']}/results"
    rows = (await api.get(path)).json()["items"]
    assert len(rows) == 2
    for row in rows:
        [found] = row["divergences"]
        assert found["name"] == "add_note" and found["arguments"]["day"] == "Tuesday"
        assert "other arguments" in found["reason"]
    same_rows = (
        await api.get(f"/v1/benchmarks/{bench.json()['id']}/runs/{passed['id']}/results")
    ).json()["items"]
    assert all(r["divergences"] == [] and r["diff"] == {"equal": True} for r in same_rows)
