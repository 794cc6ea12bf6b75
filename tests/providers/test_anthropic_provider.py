"""The Anthropic provider against the stub Messages server on loopback."""

import asyncio
import json
import time
from typing import Any

import pytest
from tests.providers.conftest import LOOPBACK, QUICK

from runplane.domain.errors import RunError
from runplane.providers.anthropic import (
    ANSWER_TOOL,
    JSON_INSTRUCTION,
    AnthropicProvider,
    split_system,
    to_anthropic_messages,
)
from runplane.testing.model_stubs import ModelStub, Reply

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only


def provider_for(stub: ModelStub, **options: Any) -> AnthropicProvider:
    options = {"model": "claude-stub", "retry": QUICK, **options}
    return AnthropicProvider(
        base_url=stub.anthropic_url, api_key="sk-ant-test", policy=LOOPBACK, **options
    )


def collector() -> tuple[list[str], Any]:
    pieces: list[str] = []

    async def on_delta(text: str) -> None:
        pieces.append(text)

    return pieces, on_delta


async def test_system_messages_and_documents_go_to_the_system_parameter(stub: ModelStub):
    stub.script(Reply(text="brief answer"))
    provider = provider_for(stub)

    completion = await provider.complete(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Plan my day."}],
        documents=[{"id": "d1", "title": "Diary", "text": "Dentist at 9."}],
    )

    [request] = stub.requests
    assert request["system"].startswith("Be brief.\n\nDocuments you may cite")
    assert "[d1] Diary\nDentist at 9." in request["system"]
    assert request["messages"] == [{"role": "user", "content": "Plan my day."}]
    assert "sk-ant-test" in (
        stub.headers[0].get("x-api-key") or stub.headers[0].get("authorization", "")
    )
    assert completion.text == "brief answer" and completion.provider == "anthropic"
    await provider.aclose()


async def test_usage_counts_cache_reads_as_cached_and_inside_the_input(stub: ModelStub):
    stub.script(
        Reply(text="ok", usage={"input_tokens": 100, "output_tokens": 9, "cached_tokens": 60})
    )

    completion = await provider_for(stub).complete([{"role": "user", "content": "hi"}])

    assert completion.usage == {
        "input_tokens": 100,
        "output_tokens": 9,
        "cached_tokens": 60,
        "reasoning_tokens": 0,
    }


async def test_the_answer_streams_through_on_delta(stub: ModelStub):
    stub.script(Reply(text="one two three four", pieces=4, usage={"output_tokens": 4}))
    pieces, on_delta = collector()

    completion = await provider_for(stub).complete(
        [{"role": "user", "content": "count"}], on_delta=on_delta
    )

    assert stub.requests[0]["stream"] is True
    assert len(pieces) == 4 and "".join(pieces) == completion.text == "one two three four"
    assert completion.usage["output_tokens"] == 4 and completion.usage["input_tokens"] == 1


@pytest.mark.parametrize("streamed", [False, True])
async def test_tool_use_blocks_come_back_as_tool_calls(stub: ModelStub, streamed: bool):
    stub.script(
        Reply(
            text="Let me look.",
            tool_calls=[{"id": "toolu_1", "name": "search", "arguments": {"query": "pricing"}}],
        )
    )
    _, on_delta = collector()

    completion = await provider_for(stub).complete(
        [{"role": "user", "content": "find pricing"}],
        tools=[{"name": "search", "description": "Search.", "parameters": {"type": "object"}}],
        on_delta=on_delta if streamed else None,
    )

    assert completion.text == "Let me look."
    assert [(c.id, c.name, c.arguments) for c in completion.tool_calls] == [
        ("toolu_1", "search", {"query": "pricing"})
    ]
    assert stub.requests[0]["tools"] == [
        {"name": "search", "description": "Search.", "input_schema": {"type": "object"}}
    ]


def test_tool_calls_and_results_become_tool_use_and_tool_result_blocks():
    messages = [
        {"role": "user", "content": "find pricing"},
        {
            "role": "assistant",
            "content": "Looking.",
            "tool_calls": [
                {"id": "t1", "name": "search", "arguments": {"query": "pricing"}},
                {"id": "t2", "name": "search", "arguments": {"query": "plans"}},
            ],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "5 EUR"},
        {"role": "tool", "tool_call_id": "t2", "content": "two plans"},
        {"role": "user", "content": "and?"},
    ]

    assert to_anthropic_messages(messages) == [
        {"role": "user", "content": "find pricing"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Looking."},
                {"type": "tool_use", "id": "t1", "name": "search", "input": {"query": "pricing"}},
                {"type": "tool_use", "id": "t2", "name": "search", "input": {"query": "plans"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "5 EUR"},
                {"type": "tool_result", "tool_use_id": "t2", "content": "two plans"},
                {"type": "text", "text": "and?"},
            ],
        },
    ]


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_json_schema_forces_the_respond_tool_and_its_input_is_the_answer(
    stub: ModelStub, streamed: bool
):
    schema = {"type": "object", "properties": {"score": {"type": "integer"}}}
    stub.script(Reply(tool_calls=[{"name": ANSWER_TOOL, "arguments": {"score": 4}}]))
    _, on_delta = collector()

    completion = await provider_for(stub).complete(
        [{"role": "user", "content": "rate"}],
        json_schema=schema,
        on_delta=on_delta if streamed else None,
    )

    assert json.loads(completion.text) == {"score": 4} and completion.tool_calls == ()
    request = stub.requests[0]
    assert request["tool_choice"] == {"type": "tool", "name": ANSWER_TOOL}
    assert request["tools"][0]["input_schema"] == schema


async def test_json_mode_asks_for_json_in_the_system_prompt(stub: ModelStub):
    stub.script(Reply.json({"steps": []}))

    completion = await provider_for(stub).complete(
        [{"role": "user", "content": "plan"}], json_mode=True
    )

    assert stub.requests[0]["system"] == JSON_INSTRUCTION
    assert json.loads(completion.text) == {"steps": []}


async def test_reasoning_effort_turns_on_extended_thinking_with_its_budget(stub: ModelStub):
    provider = provider_for(stub, max_tokens=1000)
    ask = [{"role": "user", "content": "think"}]

    await provider.complete(ask, model="claude-sonnet-4-0", reasoning_effort="medium")
    await provider.complete(ask, model="claude-3-5-haiku-latest", reasoning_effort="high")
    await provider.complete(ask, model="claude-sonnet-4-0", reasoning_effort="minimal")

    thinking, old_model, minimal = stub.requests
    assert thinking["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert thinking["max_tokens"] == 1000 + 4096
    assert "thinking" not in old_model and "thinking" not in minimal


async def test_a_429_waits_for_retry_after_then_succeeds(stub: ModelStub):
    stub.script(Reply(status=429, retry_after="1"), Reply(text="now"))

    started = time.monotonic()
    completion = await provider_for(stub).complete([{"role": "user", "content": "hi"}])

    assert completion.text == "now" and len(stub.requests) == 2
    assert time.monotonic() - started >= 0.95


async def test_a_500_is_tried_again_and_a_refused_key_is_not(stub: ModelStub):
    stub.script(Reply(status=500), Reply(text="fine"))
    assert (await provider_for(stub).complete([{"role": "user", "content": "x"}])).text == "fine"

    stub.reset()
    stub.script(Reply(status=401, error="invalid x-api-key"))
    with pytest.raises(RunError) as caught:
        await provider_for(stub).complete([{"role": "user", "content": "x"}])
    assert caught.value.code == "provider_auth" and len(stub.requests) == 1
    assert "invalid x-api-key" in caught.value.message


async def test_a_stream_cut_midway_is_tried_again(stub: ModelStub):
    text = "alpha beta gamma delta"
    stub.script(Reply(text=text, pieces=4, cut_after=2), Reply(text=text, pieces=4))
    pieces, on_delta = collector()

    completion = await provider_for(stub).complete(
        [{"role": "user", "content": "go"}], on_delta=on_delta
    )

    assert completion.text == text == "".join(pieces) and len(stub.requests) == 2


async def test_cancelling_mid_stream_closes_the_response_promptly(stub: ModelStub):
    stub.script(Reply(text="a b c d e f", pieces=6, piece_delay=0.5))
    pieces, on_delta = collector()
    task = asyncio.create_task(
        provider_for(stub).complete([{"role": "user", "content": "go"}], on_delta=on_delta)
    )
    while not pieces:
        await asyncio.sleep(0.01)

    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert time.monotonic() - started < 0.5
    deadline = time.monotonic() + 3
    while stub.closed_early == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert stub.closed_early == 1


def test_split_system_joins_system_messages_and_keeps_the_conversation_in_order():
    system, conversation = split_system(
        [
            {"role": "system", "content": "One."},
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "Two."},
            {"role": "assistant", "content": "hello"},
        ]
    )

    assert system == "One.\n\nTwo."
    assert conversation == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]
