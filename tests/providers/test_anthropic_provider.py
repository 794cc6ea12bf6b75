"""The Anthropic provider, against a fake Messages API (no network)."""

import json
from typing import Any

import pytest

from runplane.providers.anthropic import JSON_INSTRUCTION, AnthropicProvider, split_system
from runplane.providers.base import empty_usage
from runplane.testing.fake_model import asgi_transport, fake_anthropic_app

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only


def provider_for(app: Any) -> AnthropicProvider:
    return AnthropicProvider(
        base_url="http://fake-model",
        api_key="sk-ant-test",
        model="claude-test",
        transport=asgi_transport(app, sdk="anthropic"),
        max_retries=0,
    )


async def test_system_messages_go_to_the_system_parameter():
    app = fake_anthropic_app(lambda messages: "brief answer")
    provider = provider_for(app)

    completion = await provider.complete(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Plan my day."},
        ]
    )

    [request] = app.state.requests
    assert request["system"] == "Be brief."
    assert request["messages"] == [{"role": "user", "content": "Plan my day."}]
    assert request["model"] == "claude-test"
    assert completion.text == "brief answer"
    assert completion.usage == {**empty_usage(), "input_tokens": 5, "output_tokens": 2}
    await provider.aclose()


async def test_json_mode_asks_for_json_in_the_system_prompt():
    app = fake_anthropic_app(lambda messages: json.dumps({"steps": []}))
    provider = provider_for(app)

    completion = await provider.complete([{"role": "user", "content": "plan"}], json_mode=True)

    assert app.state.requests[0]["system"] == JSON_INSTRUCTION
    assert json.loads(completion.text) == {"steps": []}


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
