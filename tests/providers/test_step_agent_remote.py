"""The three-step example agent, unchanged but for its model, on an OpenAI-compatible
endpoint (the stub over loopback): each step asks the endpoint, a step that offers a tool
gets the tool's result back in a second round, and every step records its tokens and
credits at the catalogue's prices."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from test_model_runs import project, started

from runplane.testing.model_stubs import ModelStub, Reply
from runplane.testing.server import LiveServer

EXAMPLE = Path(__file__).parents[2] / "examples" / "step_agents" / "site_report.json"
TOOLS = '''
from runplane import tool


@tool(description="Look a term up in the glossary.")
def glossary(term: str) -> dict:
    """The glossary's entry for a term."""
    return {"term": term, "meaning": "a run resumes from its journal after a crash"}
'''


def test_the_example_runs_unchanged_on_an_openai_compatible_endpoint_with_a_tool_round(
    start_server: Callable[..., LiveServer],
    new_database: Callable[[str], str],
    stub: ModelStub,
    tmp_path: Path,
) -> None:
    env = {"RUNPLANE_ALLOW_PRIVATE_NETWORKS": "true"}
    _, api = started(
        start_server,
        new_database("remote"),
        "remote",
        project=project(tmp_path, "glossary_tools", TOOLS),
        env=env,
    )
    definition = json.loads(EXAMPLE.read_text())
    definition["model"] = {"name": "house-model", "reasoning_effort": "low"}
    definition["steps"][0]["tools"] = ["glossary"]
    summary = {"title": "Crash recovery", "findings": ["journal replay"], "confidence": 0.8}
    stub.script(
        Reply(tool_calls=[{"name": "glossary", "arguments": {"term": "recovery"}}]),
        Reply(text="Runs replay their journal.", pieces=3),
        Reply(text="# Report\n\nRuns replay their journal after a crash."),
        Reply.json(summary),
    )
    with api:
        provider = {"kind": "openai", "base_url": stub.openai_url, "api_key": "sk-house-1357"}
        assert api.put("/v1/model-providers/house", json=provider).status_code == 200
        prices = {"provider": "house", "context_window": 32768}
        prices |= {"input_per_mtok": 1000.0, "output_per_mtok": 2000.0}
        assert api.put("/v1/models/house-model", json=prices).status_code == 200
        made = api.post("/v1/agents", json=definition)
        assert made.status_code == 201, made.text
        revision = made.json()["revision"]["id"]
        assert api.post(f"/v1/agents/site-report/revisions/{revision}/publish").status_code == 200

        body = {"agent_id": "site-report", "input": {"question": "How do runs recover?"}}
        run = api.post("/v1/runs", json={**body, "wait": 30}).json()
        steps = api.get(f"/v1/runs/{run['id']}/steps").json()["items"]

    assert run["status"] == "succeeded", run
    assert run["result"]["content"] == summary
    # Four calls: research asks, gets the tool's answer back, then draft and summary.
    assert [r["model"] for r in stub.requests] == ["house-model"] * 4
    assert [t["function"]["name"] for t in stub.requests[0]["tools"]] == ["glossary"]
    tool_answer = [m for m in stub.requests[1]["messages"] if m["role"] == "tool"]
    assert json.loads(tool_answer[0]["content"])["meaning"].startswith("a run resumes")
    assert stub.requests[3]["response_format"]["type"] == "json_schema"
    assert "Runs replay their journal." in stub.requests[2]["messages"][-1]["content"]
    assert all(h["authorization"] == "Bearer sk-house-1357" for h in stub.headers)

    calls = [s for s in steps if s.get("usage")]
    assert len(calls) == 4 and {s["model"] for s in calls} == {"house-model"}
    for step in calls:
        usage = step["usage"]
        expected = (usage["input_tokens"] * 1000.0 + usage["output_tokens"] * 2000.0) / 1e4
        assert step["credits"] == pytest.approx(expected)
    assert run["credits"]["actual"] == pytest.approx(sum(s["credits"] for s in calls))
