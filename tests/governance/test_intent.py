"""Intent runs: a plan from the intent and the allowed tools, carried out step by step."""

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from flows import events, only_pending, start, until

from runplane.testing.model_stubs import ModelStub, Reply
from runplane.testing.server import LiveServer, create_key

DEMO = {"intent": "email the team the notes from Monday"}


async def test_the_demo_intent_reads_the_notes_then_emails_them(api: httpx.AsyncClient) -> None:
    await api.put("/v1/users/alice/connections/email", json={"secret": "alice-secret"})
    run = await start(api, "intent", DEMO, user_id="alice", context={"team": "core"})
    steps = run["plan"]["content"]["steps"]
    assert [s["tool"] for s in steps] == ["read_notes", "send_email"]
    assert steps[0]["arguments"] == {"day": "Monday"}
    assert steps[1]["arguments"]["to"] == "team"
    assert steps[1]["arguments"]["body"] == {"$ref": "steps.1.output"}

    done = await until(api, run["id"], "succeeded")
    read, sent = done["result"]["content"]["results"]
    assert read["output"] and all(n["day"] == "Monday" for n in read["output"])
    assert sent["output"]["status"] == "sent" and sent["output"]["sender"] == "alice"
    assert read["output"][0]["text"] in sent["arguments"]["body"]
    started = [e["data"]["name"] for e in await events(api, run["id"], "step.started")]
    assert started == ["plan", "read_notes", "send_email"]
    assert [e["type"] for e in await events(api, run["id"], "result")] == ["result"]


async def test_an_intent_run_with_on_tool_call_asks_before_each_tool(
    api: httpx.AsyncClient,
) -> None:
    await api.put("/v1/users/bob/connections/email", json={"secret": "bob-secret"})
    run = await start(api, "intent", DEMO, user_id="bob", approval="ON_TOOL_CALL")
    assert run["plan"] is not None
    asked = []
    for _ in range(2):
        approval = await only_pending(api, run["id"])
        asked.append(approval["request"]["tool"])
        await api.post(f"/v1/approvals/{approval['id']}", json={"decision": "approve"})
    assert asked == ["read_notes", "send_email"]
    done = await until(api, run["id"], "succeeded")
    assert done["result"]["content"]["results"][1]["output"]["status"] == "sent"


async def test_hidden_context_fills_what_the_intent_leaves_out(api: httpx.AsyncClient) -> None:
    run = await start(
        api,
        "intent",
        {"intent": "schedule a design review"},
        context={"day": "Wednesday", "time": "15:00"},
        wait=10,
    )
    assert run["status"] == "succeeded", run["error"]
    (created,) = run["result"]["content"]["results"]
    assert created["tool"] == "create_event"
    assert created["output"]["day"] == "Wednesday" and created["output"]["time"] == "15:00"


async def test_the_plan_uses_only_the_allowed_tools(api: httpx.AsyncClient) -> None:
    run = await start(api, "intent", DEMO, integrations=["notes"], wait=10)
    assert [s["tool"] for s in run["result"]["content"]["plan"]["steps"]] == ["read_notes"]


@pytest.fixture
def fake_model() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An OpenAI-compatible model on loopback that plans one note; yields its URL."""

    def reply(body: dict[str, Any]) -> Reply:
        assert "add_note" in body["messages"][0]["content"]
        plan = {
            "steps": [
                {
                    "number": 1,
                    "tool": "add_note",
                    "arguments": {"text": "Buy milk", "day": "Tuesday"},
                    "why": "the user asked to remember it",
                }
            ]
        }
        return Reply.json(plan)

    with ModelStub(default=reply) as stub:
        yield stub.openai_url, stub.requests


def test_with_a_model_configured_the_plan_comes_from_the_model(
    start_server: Callable[..., LiveServer], fake_model: tuple[str, list[dict[str, Any]]]
) -> None:
    url, requests = fake_model
    env = {
        "RUNPLANE_MODEL_PROVIDER": "openai",
        "RUNPLANE_MODEL_BASE_URL": url,
        "RUNPLANE_MODEL_NAME": "planner-1",
        # A model server on loopback (as Ollama would be): allowed explicitly.
        "RUNPLANE_ALLOW_PRIVATE_NETWORKS": "true",
    }
    server = start_server(env=env)
    key = create_key(server.database_url, tenant="llm")
    with httpx.Client(base_url=server.url, headers={"x-api-key": key}, timeout=30) as api:
        body = {
            "agent_id": "intent",
            "input": {"intent": "remember to buy milk on Tuesday"},
            "wait": 20,
        }
        run = api.post("/v1/runs", json=body).json()
    assert run["status"] == "succeeded", run
    assert run["result"]["content"]["plan"]["planner"] == "llm"
    (note,) = run["result"]["content"]["results"]
    assert note["output"]["text"] == "Buy milk" and note["output"]["day"] == "Tuesday"
    assert requests and requests[0]["model"] == "planner-1"
    assert requests[0]["response_format"] == {"type": "json_object"}
