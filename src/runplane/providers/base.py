"""The model-provider interface, and ``build_provider`` to pick one from the settings."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from runplane.domain.errors import Invalid
from runplane.settings import Settings

PROVIDERS = ("offline", "openai", "anthropic")


@dataclass(frozen=True)
class Completion:
    """One answer of a model: its text, the model that wrote it and the tokens it cost."""

    text: str
    model: str
    usage: dict[str, int] = field(default_factory=lambda: {"input_tokens": 0, "output_tokens": 0})


class ModelProvider(ABC):
    """A chat model behind one call: messages in, a ``Completion`` out."""

    name: str
    default_model: str

    @abstractmethod
    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        temperature: float | None = None,
        json_mode: bool = False,
    ) -> Completion:
        """Answer a conversation of ``{"role", "content"}`` messages.

        ``json_mode`` asks the model for one JSON object as its whole answer.
        """

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most providers hold nothing
        """Release the provider's connections."""


def build_provider(settings: Settings, **options: Any) -> ModelProvider | None:
    """The provider the settings name; ``None`` for ``offline`` (no model at all).

    ``options`` reach the provider's constructor (tests pass ``http_client``).
    """
    kind = settings.model_provider.strip().lower()
    if kind == "offline":
        return None
    # Imported here so that an offline server never loads the vendors' SDKs.
    provider: type[ModelProvider]
    if kind == "openai":
        from runplane.providers.openai import OpenAIProvider as provider
    elif kind == "anthropic":
        from runplane.providers.anthropic import AnthropicProvider as provider
    else:
        raise Invalid.field(
            "model_provider",
            f"unknown model provider {settings.model_provider!r} (RUNPLANE_MODEL_PROVIDER): "
            f"use one of {', '.join(PROVIDERS)}",
            settings.model_provider,
        )
    return provider(  # type: ignore[call-arg]
        model=settings.model_name,
        base_url=settings.model_base_url,
        api_key=settings.model_api_key,
        **options,
    )
