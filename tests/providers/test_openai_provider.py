"""The OpenAI-compatible provider, against the fake chat-completions server (no network)."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from runplane.domain.errors import RunError
from runplane.providers.base import empty_usage
from runplane.providers.openai import OpenAIProvider
from runplane.testing.fake_model import FakeModelError, asgi_transport, fake_openai_app

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only


def provider_for(app: Any, **options: Any) -> OpenAIProvider:
    return OpenAIProvider(
        base_url="http://fake-model/v1",
        api_key="sk-test",
        transport=asgi_transport(app),
        max_retries=0,
        **options,
    )


async def test_the_answer_text_model_and_usage_come_back_as_a_completion():
    app = fake_openai_app(lambda messages: f"you said: {messages[-1]['content']}")
    provider = provider_for(app, model="tiny-model")

    completion = await provider.complete([{"role": "user", "content": "hello there"}])

    assert completion.text == "you said: hello there"
    assert completion.model == "tiny-model"
    assert completion.usage == {**empty_usage(), "input_tokens": 2, "output_tokens": 4}
    await provider.aclose()


async def test_the_messages_reach_the_server_unchanged_with_the_chosen_model():
    app = fake_openai_app(lambda messages: "ok")
    provider = provider_for(app, model="default-model")
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Plan my day."},
    ]

    completion = await provider.complete(messages, model="other-model", temperature=0.2)

    [request] = app.state.requests
    assert request["messages"] == messages
    assert request["model"] == "other-model"
    assert request["temperature"] == 0.2
    assert "response_format" not in request
    assert completion.model == "other-model"


async def test_json_mode_asks_the_server_for_a_json_object():
    app = fake_openai_app(lambda messages: json.dumps({"steps": []}))
    provider = provider_for(app)

    completion = await provider.complete([{"role": "user", "content": "plan"}], json_mode=True)

    assert app.state.requests[0]["response_format"] == {"type": "json_object"}
    assert json.loads(completion.text) == {"steps": []}


async def test_a_local_server_needs_no_api_key():
    app = fake_openai_app(lambda messages: "local")
    provider = OpenAIProvider(
        base_url="http://fake-model/v1", transport=asgi_transport(app), max_retries=0
    )

    assert (await provider.complete([{"role": "user", "content": "hi"}])).text == "local"


def refuse(status: int) -> Callable[[list[dict[str, Any]]], str]:
    def reply(messages: list[dict[str, Any]]) -> str:
        raise FakeModelError(status, "no, thank you")

    return reply


@pytest.mark.parametrize(
    ("status", "retryable"), [(400, False), (401, False), (429, True), (503, True)]
)
async def test_a_refusal_becomes_a_model_error_retryable_only_when_trying_again_may_help(
    status: int, retryable: bool
):
    provider = provider_for(fake_openai_app(refuse(status)))

    with pytest.raises(RunError) as caught:
        await provider.complete([{"role": "user", "content": "hi"}])

    # A refused key is provider_auth: never tried again.
    assert caught.value.code == ("provider_auth" if status == 401 else "model_error")
    assert caught.value.retryable is retryable
    assert f"HTTP {status}" in caught.value.message
    assert "no, thank you" in caught.value.message
