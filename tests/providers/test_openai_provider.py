"""The OpenAI-compatible provider against the stub Chat Completions server on loopback."""

import asyncio
import json
import time
from typing import Any

import pytest
from tests.providers.conftest import LOOPBACK, QUICK

from runplane.domain.errors import RunError
from runplane.providers.openai import OpenAIProvider
from runplane.providers.retrying import RetryPolicy
from runplane.testing.model_stubs import ModelStub, Reply

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only


def provider_for(stub: ModelStub, **options: Any) -> OpenAIProvider:
    options = {"model": "stub-model", "retry": QUICK, **options}
    return OpenAIProvider(base_url=stub.openai_url, api_key="sk-test", policy=LOOPBACK, **options)


def collector() -> tuple[list[str], Any]:
    pieces: list[str] = []

    async def on_delta(text: str) -> None:
        pieces.append(text)

    return pieces, on_delta


async def test_an_answer_comes_back_with_its_model_and_all_four_token_counts(stub: ModelStub):
    usage = {"input_tokens": 12, "output_tokens": 7, "cached_tokens": 4, "reasoning_tokens": 3}
    stub.script(Reply(text="hello there", usage=usage))
    provider = provider_for(stub)

    completion = await provider.complete([{"role": "user", "content": "hi"}])

    assert completion.text == "hello there"
    assert completion.model == "stub-model" and completion.provider == "openai"
    assert completion.usage == usage
    assert stub.headers[0]["authorization"] == "Bearer sk-test"
    await provider.aclose()


async def test_with_on_delta_the_answer_streams_in_pieces_and_asks_for_usage(stub: ModelStub):
    stub.script(Reply(text="one two three four five six", pieces=3))
    provider = provider_for(stub)
    pieces, on_delta = collector()

    completion = await provider.complete([{"role": "user", "content": "count"}], on_delta=on_delta)

    assert len(pieces) == 3 and "".join(pieces) == completion.text == "one two three four five six"
    [request] = stub.requests
    assert request["stream"] is True
    assert request["stream_options"] == {"include_usage": True}
    assert completion.usage["output_tokens"] == 6 and completion.usage["input_tokens"] == 1


@pytest.mark.parametrize("streamed", [False, True])
async def test_tool_calls_come_back_with_parsed_arguments(stub: ModelStub, streamed: bool):
    calls = [
        {"id": "call_a", "name": "search", "arguments": {"query": "pricing", "limit": 3}},
        {"id": "call_b", "name": "add_note", "arguments": {"text": "done"}},
    ]
    stub.script(Reply(tool_calls=calls))
    provider = provider_for(stub)
    _, on_delta = collector()

    completion = await provider.complete(
        [{"role": "user", "content": "find pricing"}],
        tools=[{"name": "search", "description": "Search.", "parameters": {"type": "object"}}],
        on_delta=on_delta if streamed else None,
    )

    assert [(c.id, c.name, c.arguments) for c in completion.tool_calls] == [
        ("call_a", "search", {"query": "pricing", "limit": 3}),
        ("call_b", "add_note", {"text": "done"}),
    ]
    assert stub.requests[0]["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "search",
                "description": "Search.",
                "parameters": {"type": "object"},
            },
        }
    ]


async def test_a_tool_loop_conversation_is_sent_in_openai_format(stub: ModelStub):
    provider = provider_for(stub)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "find pricing"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "call_a", "name": "search", "arguments": {"query": "pricing"}}],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "Pricing is 5 EUR."},
    ]

    await provider.complete(messages, documents=[{"id": "f1", "title": "Notes", "text": "abc"}])

    sent = stub.requests[0]["messages"]
    assert sent[0]["role"] == "system" and "[f1] Notes\nabc" in sent[0]["content"]
    assert sent[1:3] == messages[:2]
    assert sent[3] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "search", "arguments": json.dumps({"query": "pricing"})},
            }
        ],
    }
    assert sent[4] == {"role": "tool", "tool_call_id": "call_a", "content": "Pricing is 5 EUR."}


async def test_a_json_schema_asks_for_structured_output_and_json_mode_for_an_object(
    stub: ModelStub,
):
    schema = {
        "title": "Summary card",
        "type": "object",
        "properties": {"score": {"type": "integer"}},
    }
    stub.script(Reply.json({"score": 4}), Reply.json({}))
    provider = provider_for(stub)

    completion = await provider.complete([{"role": "user", "content": "rate"}], json_schema=schema)
    await provider.complete([{"role": "user", "content": "rate"}], json_mode=True)

    assert json.loads(completion.text) == {"score": 4}
    assert stub.requests[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Summary_card", "schema": schema},
    }
    assert stub.requests[1]["response_format"] == {"type": "json_object"}


async def test_reasoning_effort_reaches_only_the_models_that_take_it(stub: ModelStub):
    provider = provider_for(stub)
    ask = [{"role": "user", "content": "think"}]

    await provider.complete(ask, model="o4-mini", reasoning_effort="high", temperature=0.3)
    await provider.complete(ask, model="gpt-4o-mini", reasoning_effort="high", temperature=0.3)

    reasoning, plain = stub.requests
    assert reasoning["reasoning_effort"] == "high" and "temperature" not in reasoning
    assert "reasoning_effort" not in plain and plain["temperature"] == 0.3


async def test_a_429_is_tried_again_after_the_seconds_retry_after_asks(stub: ModelStub):
    stub.script(Reply(status=429, retry_after="1", error="slow down"), Reply(text="now"))
    provider = provider_for(stub)

    started = time.monotonic()
    completion = await provider.complete([{"role": "user", "content": "hi"}])

    assert completion.text == "now"
    assert len(stub.requests) == 2
    assert time.monotonic() - started >= 0.95


async def test_server_errors_are_tried_again_a_bounded_number_of_times(stub: ModelStub):
    stub.script(Reply(status=500), Reply(status=503), Reply(text="third time lucky"))
    assert (await provider_for(stub).complete([{"role": "user", "content": "x"}])).text == (
        "third time lucky"
    )

    stub.reset()
    stub.script(*(Reply(status=500, error="boom") for _ in range(5)))
    with pytest.raises(RunError) as caught:
        await provider_for(stub).complete([{"role": "user", "content": "x"}])

    assert len(stub.requests) == 3
    assert caught.value.code == "model_error" and caught.value.retryable is False
    assert "HTTP 500" in caught.value.message and "gave up after 3 attempts" in caught.value.message


@pytest.mark.parametrize(
    ("status", "code"), [(400, "model_error"), (401, "provider_auth"), (403, "provider_auth")]
)
async def test_a_bad_request_or_a_refused_key_is_not_tried_again(
    stub: ModelStub, status: int, code: str
):
    stub.script(Reply(status=status, error="no, thank you"))

    with pytest.raises(RunError) as caught:
        await provider_for(stub).complete([{"role": "user", "content": "hi"}])

    assert len(stub.requests) == 1
    assert caught.value.code == code and caught.value.retryable is False
    assert f"HTTP {status}" in caught.value.message and "no, thank you" in caught.value.message


async def test_a_stream_cut_midway_is_tried_again_without_repeating_the_sent_text(
    stub: ModelStub,
):
    text = "alpha beta gamma delta epsilon zeta"
    stub.script(Reply(text=text, pieces=6, cut_after=3), Reply(text=text, pieces=6))
    pieces, on_delta = collector()

    completion = await provider_for(stub).complete(
        [{"role": "user", "content": "go"}], on_delta=on_delta
    )

    assert completion.text == text
    assert "".join(pieces) == text  # the cut attempt's three pieces are not sent twice
    assert len(stub.requests) == 2


async def test_a_slow_first_token_past_the_timeout_is_tried_again(stub: ModelStub):
    stub.script(Reply(text="late", first_token_delay=2.0), Reply(text="on time"))
    provider = provider_for(stub, timeout=0.5)

    completion = await provider.complete([{"role": "user", "content": "hi"}])

    assert completion.text == "on time" and len(stub.requests) == 2


async def test_cancelling_mid_stream_closes_the_response_promptly(stub: ModelStub):
    stub.script(Reply(text="a b c d e f g h", pieces=8, piece_delay=0.5))
    pieces, on_delta = collector()
    provider = provider_for(stub)
    task = asyncio.create_task(
        provider.complete([{"role": "user", "content": "go"}], on_delta=on_delta)
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
    assert stub.closed_early == 1  # the server saw the client hang up before the end


async def test_a_slow_first_token_can_be_cancelled(stub: ModelStub):
    stub.script(Reply(text="never", first_token_delay=5.0))
    _, on_delta = collector()
    task = asyncio.create_task(
        provider_for(stub).complete([{"role": "user", "content": "go"}], on_delta=on_delta)
    )
    while not stub.requests:
        await asyncio.sleep(0.01)

    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 0.5


def test_a_local_server_needs_no_api_key(stub: ModelStub):
    provider = OpenAIProvider(base_url=stub.openai_url, policy=LOOPBACK, retry=RetryPolicy(1))

    assert asyncio.run(provider.complete([{"role": "user", "content": "hi"}])).text == (
        "stub answer to: hi"
    )
