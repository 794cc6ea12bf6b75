"""Anthropic's Messages API."""

import os
from typing import Any

import anthropic

from runplane import outbound
from runplane.domain.errors import Invalid, RunError
from runplane.providers.base import Completion, ModelProvider, OnDelta, api_error, empty_usage

DEFAULT_MODEL = "claude-3-5-haiku-latest"
MAX_TOKENS = 4096
# The Messages API has no JSON switch; asking plainly works, and the caller parses.
JSON_INSTRUCTION = "Answer with one JSON object and nothing else: no prose, no code fence."


class AnthropicProvider(ModelProvider):
    """Messages through the ``anthropic`` package's ``AsyncAnthropic`` client."""

    name = "anthropic"

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
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise Invalid.field(
                "model_api_key", "the anthropic provider needs an API key (RUNPLANE_MODEL_API_KEY)"
            )
        if http_client is None and transport is not None:
            http_client = anthropic.DefaultAsyncHttpxClient(transport=transport)
        elif http_client is None:
            # Through the outgoing-call fence (see ``runplane.outbound``).
            http_client = outbound.sdk_http_client(
                anthropic.DefaultAsyncHttpxClient, policy or outbound.Policy(), timeout=timeout
            )
        self.default_model = model or DEFAULT_MODEL
        self.max_tokens = max_tokens
        self._client = anthropic.AsyncAnthropic(
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
        """Send the conversation, its system messages as the ``system`` parameter."""
        system, conversation = split_system(messages)
        if json_mode:
            system = f"{system}\n\n{JSON_INSTRUCTION}" if system else JSON_INSTRUCTION
        options: dict[str, Any] = {}
        if system:
            options["system"] = system
        if temperature is not None:
            options["temperature"] = temperature
        try:
            response = await self._client.messages.create(
                model=model or self.default_model,
                max_tokens=self.max_tokens,
                messages=conversation,  # type: ignore[arg-type]
                **options,
            )
        except (anthropic.APIError, outbound.Refused) as exc:
            raise _run_error(exc) from exc
        text = "".join(
            block.text for block in response.content if isinstance(block, anthropic.types.TextBlock)
        )
        return Completion(
            text=text,
            model=response.model or model or self.default_model,
            usage={
                **empty_usage(),
                "input_tokens": response.usage.input_tokens,
                "output_tokens": response.usage.output_tokens,
            },
            provider=self.name,
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.close()


def split_system(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Separate the system messages (joined) from the conversation, as the API wants them."""
    system = [str(m.get("content", "")) for m in messages if m.get("role") == "system"]
    conversation = [
        {"role": m["role"], "content": m.get("content", "")}
        for m in messages
        if m.get("role") != "system"
    ]
    return "\n\n".join(system), conversation


def _run_error(exc: anthropic.APIError | outbound.Refused) -> RunError:
    return api_error("anthropic", exc, str(getattr(exc, "message", exc)))
