"""Model providers: the one interface agents reach a language model through (``ctx.llm``)."""

from typing import Any

from runplane.domain.errors import Invalid
from runplane.outbound import Policy
from runplane.providers.base import Completion, ModelProvider, ToolCall
from runplane.providers.offline import OfflineProvider
from runplane.providers.retrying import RetryPolicy
from runplane.settings import Settings

PROVIDERS = ("offline", "openai", "anthropic")

__all__ = [
    "PROVIDERS",
    "Completion",
    "ModelProvider",
    "OfflineProvider",
    "RetryPolicy",
    "ToolCall",
    "build_provider",
    "retry_policy",
]


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
        **{
            "policy": Policy.from_settings(settings),
            "retry": retry_policy(settings),
            "timeout": settings.model_timeout,
            **options,
        },
    )


def retry_policy(settings: Settings) -> RetryPolicy:
    """How the settings say model calls are tried again."""
    return RetryPolicy(
        attempts=settings.model_max_attempts, max_delay=settings.model_retry_max_delay
    )
