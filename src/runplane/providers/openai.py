"""Any OpenAI-compatible chat-completions server (OpenAI, vLLM, Ollama, LM Studio…)."""

import os
from typing import Any

import openai

from runplane import outbound
from runplane.domain.errors import Invalid, RunError
from runplane.providers.base import Completion, ModelProvider, OnDelta, api_error, empty_usage

DEFAULT_MODEL = "gpt-4o-mini"
# A local server usually ignores the key, but the SDK refuses to start without one.
PLACEHOLDER_KEY = "not-needed"


class OpenAIProvider(ModelProvider):
    """Chat completions through the ``openai`` package's ``AsyncOpenAI`` client."""

    name = "openai"

    def __init__(
        self,
        *,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        http_client: Any = None,
        transport: Any = None,
        policy: outbound.Policy | None = None,
        max_retries: int = 2,
        timeout: float = 120.0,
    ) -> None:
        key = api_key or os.environ.get("OPENAI_API_KEY") or (PLACEHOLDER_KEY if base_url else None)
        if not key:
            raise Invalid.field(
                "model_api_key",
                "the openai provider needs an API key (RUNPLANE_MODEL_API_KEY) "
                "or a base URL of a server that needs none (RUNPLANE_MODEL_BASE_URL)",
            )
        if http_client is None and transport is not None:
            # The SDK's own client class, so that its HTTP library (httpx or httpx2) matches.
            http_client = openai.DefaultAsyncHttpxClient(transport=transport)
        elif http_client is None:
            # Through the outgoing-call fence: a model server on localhost (Ollama, vLLM)
            # needs RUNPLANE_ALLOW_PRIVATE_NETWORKS or RUNPLANE_OUTBOUND_ALLOW.
            http_client = outbound.sdk_http_client(
                openai.DefaultAsyncHttpxClient, policy or outbound.Policy(), timeout=timeout
            )
        self.default_model = model or DEFAULT_MODEL
        self._client = openai.AsyncOpenAI(
            api_key=key,
            base_url=base_url,
            http_client=http_client,
            max_retries=max_retries,
            timeout=timeout,
        )

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        temperature: float | None = None,
        json_mode: bool = False,
        json_schema: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
        reasoning_effort: str | None = None,
        documents: list[dict[str, Any]] | None = None,
        on_delta: OnDelta | None = None,
    ) -> Completion:
        """Send the messages to ``/chat/completions`` and return the first choice."""
        options: dict[str, Any] = {}
        if temperature is not None:
            options["temperature"] = temperature
        if json_mode:
            options["response_format"] = {"type": "json_object"}
        try:
            response = await self._client.chat.completions.create(
                model=model or self.default_model,
                messages=messages,  # type: ignore[arg-type]
                **options,
            )
        except (openai.APIError, outbound.Refused) as exc:
            raise _run_error(exc) from exc
        if not response.choices:
            raise RunError("the model returned no choices", code="model_error", retryable=True)
        usage = response.usage
        return Completion(
            text=response.choices[0].message.content or "",
            model=response.model or model or self.default_model,
            usage={
                **empty_usage(),
                "input_tokens": usage.prompt_tokens if usage else 0,
                "output_tokens": usage.completion_tokens if usage else 0,
            },
            provider=self.name,
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.close()


def _run_error(exc: openai.APIError | outbound.Refused) -> RunError:
    return api_error("openai", exc, str(getattr(exc, "message", exc)))
