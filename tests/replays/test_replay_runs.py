"""Replays: a run's tool calls answered from a recorded run, the tools never called."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from replay_flows import calls, events, record_count, replay, run, tenant_of

from runplane.domain.errors import NotFound
from runplane.services import replays
from runplane.services.runtime import Runtime

NOTE = ("add_note", {"text": "Ship it", "day": "Monday"})
READ = ("read_notes", {"day": "Monday"})
BAD_DAY = ("add_note", {"text": "Never", "day": "Someday"})


async def test_a_replay_answers_tool_calls_from_the_recording_without_calling_them(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    input = calls(NOTE, READ, BAD_DAY)
    recorded = await run(api, "call_tools", input)
    tenant = await tenant_of(rt, recorded["id"])
    assert recorded["status"] == "succeeded", recorded
    written = await record_count(rt, tenant, "notes")
    assert written >= 1  # the sample notes and the one added

    again = await replay(rt, tenant, recorded["id"], "call_tools", input)

    assert again["status"] == "succeeded", again
    assert again["replay_of"] == recorded["id"]
    # The same outputs, the recorded failure included, and not one more note written.
    assert again["result"]["content"] == recorded["result"]["content"]
    assert again["result"]["content"]["results"][2]["error"]["code"] == "tool_failed"
    assert await record_count(rt, tenant, "notes") == written
    results = await events(api, again["id"], "tool_result")
    assert [r.get("replayed") for r in results] == [True, True, True]
    assert [r["ok"] for r in results] == [True, True, False]
    assert await replays.divergences(rt, tenant, again["id"]) == []


async def test_a_call_the_recording_never_made_is_a_divergence_the_agent_sees(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    recorded = await run(api, "call_tools", calls(NOTE))
    tenant = await tenant_of(rt, recorded["id"])
    written = await record_count(rt, tenant, "notes")
    other_note = ("add_note", {"text": "Something else", "day": "Monday"})

    again = await replay(rt, tenant, recorded["id"], "call_tools", calls(NOTE, NOTE, other_note))

    assert again["status"] == "succeeded", again
    first, second, third = again["result"]["content"]["results"]
    assert first == recorded["result"]["content"]["results"][0]
    assert second["error"]["code"] == "replay_divergence"
    assert third["error"]["code"] == "replay_divergence"
    assert await record_count(rt, tenant, "notes") == written
    found = await replays.divergences(rt, tenant, again["id"])
    assert [(d["name"], d["arguments"]) for d in found] == [NOTE, other_note]
    assert "only once" in found[0]["reason"]
    assert "other arguments" in found[1]["reason"]
    assert await events(api, again["id"], "replay.divergence") == found


async def test_a_replayed_research_run_gives_the_recorded_answer_without_searching(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    question = {"question": "How does write-ahead logging make commits durable?"}
    recorded = await run(api, "research", question)
    tenant = await tenant_of(rt, recorded["id"])
    assert recorded["status"] == "succeeded", recorded

    again = await replay(rt, tenant, recorded["id"], "research", question)

    assert again["status"] == "succeeded", again
    assert again["result"]["content"] == recorded["result"]["content"]
    [searched] = await events(api, again["id"], "tool_result")
    assert searched["replayed"] is True and searched["duration_ms"] == 0.0


async def test_a_replay_of_another_tenants_run_is_not_found(
    api: httpx.AsyncClient, make_client: Callable[..., Any], rt: Runtime
) -> None:
    recorded = await run(api, "call_tools", calls(READ))
    other = await make_client()
    made = await run(other, "echo", {})
    with pytest.raises(NotFound, match="no run"):
        await replay(rt, await tenant_of(rt, made["id"]), recorded["id"], "call_tools", calls(READ))


async def test_a_replay_needs_no_credential_and_sends_no_email(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    put = await api.put("/v1/users/ann/connections/email", json={"secret": "s3cret-value-0000"})
    assert put.status_code == 200, put.text
    email = ("send_email", {"to": "team@example.com", "subject": "Notes", "body": "Hi"})
    recorded = await run(api, "call_tools", calls(email), user_id="ann")
    assert recorded["status"] == "succeeded", recorded
    tenant = await tenant_of(rt, recorded["id"])
    assert await record_count(rt, tenant, "outbox") == 1

    # No user, so no credential to read: the send is answered from the recording.
    again = await replay(rt, tenant, recorded["id"], "call_tools", calls(email))

    assert again["status"] == "succeeded", again
    assert again["result"]["content"] == recorded["result"]["content"]
    assert await record_count(rt, tenant, "outbox") == 1
    assert await events(api, again["id"], "auth.required") == []
