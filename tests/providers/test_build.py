"""``build_provider``: the settings pick the model provider."""

import pytest

from runplane.domain.errors import Invalid
from runplane.providers import build_provider
from runplane.providers.anthropic import AnthropicProvider
from runplane.providers.openai import OpenAIProvider
from runplane.settings import Settings

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only


def test_offline_means_no_provider():
    assert build_provider(Settings(model_provider="offline")) is None


def test_openai_builds_a_provider_with_the_configured_model():
    provider = build_provider(
        Settings(
            model_provider="openai",
            model_name="llama3",
            model_base_url="http://127.0.0.1:11434/v1",
        )
    )

    assert isinstance(provider, OpenAIProvider)
    assert provider.name == "openai"
    assert provider.default_model == "llama3"


def test_anthropic_builds_a_provider_from_its_key():
    provider = build_provider(Settings(model_provider="Anthropic", model_api_key="sk-ant-test"))

    assert isinstance(provider, AnthropicProvider)
    assert provider.name == "anthropic"


def test_an_unknown_provider_is_invalid_and_names_the_setting():
    with pytest.raises(Invalid) as caught:
        build_provider(Settings(model_provider="llamafarm"))

    assert caught.value.details == [{"name": "model_provider", "value": "llamafarm"}]
    assert "RUNPLANE_MODEL_PROVIDER" in caught.value.message


def test_anthropic_without_a_key_is_invalid_and_names_the_key_setting(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)

    with pytest.raises(Invalid) as caught:
        build_provider(Settings(model_provider="anthropic"))

    assert caught.value.details[0]["name"] == "model_api_key"


def test_openai_without_a_key_or_a_local_server_is_invalid(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    with pytest.raises(Invalid) as caught:
        build_provider(Settings(model_provider="openai"))

    assert caught.value.details[0]["name"] == "model_api_key"
