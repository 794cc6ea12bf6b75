"""Any OpenAI-compatible Chat Completions server (OpenAI, vLLM, Ollama, llama.cpp, LM Studio…).

Neutral messages become OpenAI's: an assistant's ``tool_calls`` carry their arguments
as a JSON string, a tool's result is a ``tool`` message. ``json_schema`` asks for
structured output (``response_format`` of type ``json_schema``), ``json_mode`` for a
JSON object. ``reasoning_effort`` reaches models that take it (o-series, gpt-5); others
would refuse it. With ``on_delta`` the answer streams, usage asked for in the stream.
"""

import json
import os
import re
from typing import Any

import openai

from runplane import outbound
from runplane.domain.errors import Invalid, RunError
from runplane.outbound.transport import http_library
from runplane.providers.base import (
    Completion,
    ModelProvider,
    OnDelta,
    ToolCall,
    api_error,
    documents_prompt,
    empty_usage,
)
from runplane.providers.retrying import (
    DeltaOnce,
    IncompleteAnswer,
    RetryPolicy,
    incomplete_error,
    with_retries,
)

DEFAULT_MODEL = "gpt-4o-mini"
# A local server usually ignores the key, but the SDK refuses to start without one.
PLACEHOLDER_KEY = "not-needed"
# Models that take ``reasoning_effort`` (and refuse ``temperature``).
REASONING_MODEL = re.compile(r"^(?:openai/)?(?:o\d|gpt-5)")
_LIBRARY = http_library(openai.DefaultAsyncHttpxClient)
FAILURES: tuple[type[BaseException], ...] = (
    openai.APIError,
    outbound.Refused,
    IncompleteAnswer,
    _LIBRARY.HTTPError,
)


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
        retry: RetryPolicy | None = None,
        timeout: float = 120.0,
        max_retries: int | None = None,
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
        # ``max_retries`` (as the SDKs spell it) is the same as ``retry`` with that many
        # attempts after the first; the SDK's own retries stay off either way.
        if retry is None and max_retries is not None:
            retry = RetryPolicy(attempts=max_retries + 1)
        self.retry = retry or RetryPolicy()
        self._client = openai.AsyncOpenAI(
            api_key=key,
            base_url=base_url,
            http_client=http_client,
            max_retries=0,  # runplane tries again itself (``retry``)
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
        """Send the messages to ``/chat/completions``; the first choice is the answer."""
        name = model or self.default_model
        request: dict[str, Any] = {
            "model": name,
            "messages": to_openai_messages(messages, documents),
        }
        reasoning = bool(REASONING_MODEL.match(name))
        if temperature is not None and not reasoning:
            request["temperature"] = temperature
        if reasoning_effort and reasoning:
            request["reasoning_effort"] = reasoning_effort
        if json_schema is not None:
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema_name(json_schema), "schema": json_schema},
            }
        elif json_mode:
            request["response_format"] = {"type": "json_object"}
        if tools:
            request["tools"] = [to_openai_tool(t) for t in tools]
        deltas = DeltaOnce(on_delta)

        async def attempt() -> Completion:
            forward = deltas.attempt()
            if forward is None:
                return await self._answer(request)
            return await self._stream(request, forward)

        return await with_retries(self.name, self.retry, attempt, _run_error, FAILURES)

    async def _answer(self, request: dict[str, Any]) -> Completion:
        response = await self._client.chat.completions.create(**request)
        if not response.choices:
            raise IncompleteAnswer("no choices")
        message = response.choices[0].message
        calls = tuple(
            ToolCall(c.id, c.function.name, parse_arguments(c.function.arguments))
            for c in message.tool_calls or ()
            if c.type == "function"
        )
        return Completion(
            text=message.content or "",
            model=response.model or request["model"],
            usage=usage_of(response.usage),
            tool_calls=calls,
            provider=self.name,
        )

    async def _stream(self, request: dict[str, Any], on_delta: OnDelta) -> Completion:
        stream = await self._client.chat.completions.create(
            **request, stream=True, stream_options={"include_usage": True}
        )
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        usage, model, finished = empty_usage(), request["model"], False
        # A cancelled task leaves through ``finally``: the response is closed at once.
        try:
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = usage_of(chunk.usage)
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        text.append(delta.content)
                        await on_delta(delta.content)
                    for part in delta.tool_calls or ():
                        call = calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
                        call["id"] = part.id or call["id"]
                        if part.function is not None:
                            call["name"] += part.function.name or ""
                            call["arguments"] += part.function.arguments or ""
                    finished = finished or choice.finish_reason is not None
        finally:
            await stream.close()
        if not finished:
            raise IncompleteAnswer("the stream ended early")
        return Completion(
            text="".join(text),
            model=model,
            usage=usage,
            tool_calls=tuple(
                ToolCall(c["id"], c["name"], parse_arguments(c["arguments"]))
                for _, c in sorted(calls.items())
            ),
            provider=self.name,
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.close()


def to_openai_messages(
    messages: list[dict[str, Any]], documents: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Neutral messages (see ``providers.base``) as Chat Completions messages."""
    out: list[dict[str, Any]] = []
    if documents:
        out.append({"role": "system", "content": documents_prompt(documents)})
    for m in messages:
        role = m.get("role")
        if role == "tool":
            out.append(
                {"role": "tool", "tool_call_id": m.get("tool_call_id", ""), "content": _text(m)}
            )
        elif role == "assistant" and m.get("tool_calls"):
            out.append(
                {
                    "role": "assistant",
                    "content": m.get("content") or None,
                    "tool_calls": [
                        {
                            "id": c["id"],
                            "type": "function",
                            "function": {
                                "name": c["name"],
                                "arguments": json.dumps(c.get("arguments") or {}),
                            },
                        }
                        for c in m["tool_calls"]
                    ],
                }
            )
        else:
            out.append({"role": role, "content": _text(m)})
    return out


def to_openai_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A neutral tool ``{"name", "description", "parameters"}`` as an OpenAI function tool."""
    return {
        "type": "function",
        "function": {
            "name": tool["name"],
            "description": tool.get("description") or "",
            "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
        },
    }


def schema_name(schema: dict[str, Any]) -> str:
    """The name OpenAI wants for a response schema: its title, made safe, or ``answer``."""
    title = re.sub(r"[^A-Za-z0-9_-]+", "_", str(schema.get("title") or "")).strip("_")
    return title[:64] or "answer"


def parse_arguments(raw: str | None) -> dict[str, Any]:
    """A tool call's arguments, parsed; text that is no JSON object is kept under ``_raw``."""
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {"_raw": raw}
    return value if isinstance(value, dict) else {"_raw": raw}


def usage_of(usage: Any) -> dict[str, int]:
    """The four token counts of an OpenAI ``usage`` object."""
    counts = empty_usage()
    if usage is None:
        return counts
    counts["input_tokens"] = usage.prompt_tokens or 0
    counts["output_tokens"] = usage.completion_tokens or 0
    prompt, completion = usage.prompt_tokens_details, usage.completion_tokens_details
    counts["cached_tokens"] = (prompt.cached_tokens or 0) if prompt is not None else 0
    counts["reasoning_tokens"] = (completion.reasoning_tokens or 0) if completion is not None else 0
    return counts


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else json.dumps(content)


def _run_error(exc: Exception) -> RunError:
    if isinstance(exc, IncompleteAnswer):
        return incomplete_error("openai")
    # No status (a timeout, a lost connection) is retryable; see ``api_error``.
    return api_error("openai", exc, str(getattr(exc, "message", exc)) or type(exc).__name__)
