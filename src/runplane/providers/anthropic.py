"""Anthropic's Messages API.

Neutral messages become Anthropic's: system messages (and the documents) go to the
``system`` parameter, an assistant's ``tool_calls`` become ``tool_use`` blocks, tool
results ``tool_result`` blocks of a user message, and consecutive messages of one role
are merged (the API wants the roles to alternate).

Structured output: with ``json_schema`` (and no tools of the caller's, no extended
thinking) the model is made to call a tool ``respond`` whose ``input_schema`` is the
schema, and the tool's input is the answer; otherwise the schema goes into the system
prompt as an instruction and the text is the answer.

``reasoning_effort`` turns on extended thinking with a budget of thinking tokens:
``minimal`` none, ``low`` 1,024, ``medium`` 4,096, ``high`` 16,384 (``THINKING_BUDGETS``);
``max_tokens`` grows by the budget. Models before Claude 3.7 have no extended thinking
and get none.

Usage: ``input_tokens`` counts every input token, cache reads and writes included;
``cached_tokens`` is ``cache_read_input_tokens``; thinking is inside ``output_tokens``
(the API does not count it apart, so ``reasoning_tokens`` stays 0).
"""

import json
import os
import re
from typing import Any

import anthropic

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

DEFAULT_MODEL = "claude-3-5-haiku-latest"
MAX_TOKENS = 4096
# The Messages API has no JSON switch; asking plainly works, and the caller parses.
JSON_INSTRUCTION = "Answer with one JSON object and nothing else: no prose, no code fence."
ANSWER_TOOL = "respond"
THINKING_BUDGETS = {"minimal": 0, "low": 1024, "medium": 4096, "high": 16384}
# Claude 3 models before 3.7 have no extended thinking.
NO_THINKING = re.compile(r"^(?:anthropic/)?claude-(?:instant|2|3-(?!7))")
_LIBRARY = http_library(anthropic.DefaultAsyncHttpxClient)
FAILURES: tuple[type[BaseException], ...] = (
    anthropic.APIError,
    outbound.Refused,
    IncompleteAnswer,
    _LIBRARY.HTTPError,
)


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
        retry: RetryPolicy | None = None,
        timeout: float = 120.0,
        max_retries: int | None = None,
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
        # ``max_retries`` (as the SDKs spell it) is the same as ``retry`` with that many
        # attempts after the first; the SDK's own retries stay off either way.
        if retry is None and max_retries is not None:
            retry = RetryPolicy(attempts=max_retries + 1)
        self.retry = retry or RetryPolicy()
        self._client = anthropic.AsyncAnthropic(
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
        """Send the conversation to ``/v1/messages``."""
        name = model or self.default_model
        system, conversation = split_system(messages)
        blocks = [b for b in (system, documents_prompt(documents)) if b]
        budget = 0 if NO_THINKING.match(name) else THINKING_BUDGETS.get(reasoning_effort or "", 0)
        forced = json_schema is not None and not tools and not budget
        if json_schema is not None and not forced:
            blocks.append(
                f"{JSON_INSTRUCTION} It must match this JSON Schema: {json.dumps(json_schema)}"
            )
        elif json_mode and json_schema is None:
            blocks.append(JSON_INSTRUCTION)
        request: dict[str, Any] = {
            "model": name,
            "max_tokens": self.max_tokens + budget,
            "messages": to_anthropic_messages(conversation),
        }
        if blocks:
            request["system"] = "\n\n".join(blocks)
        if temperature is not None and not budget:
            request["temperature"] = temperature
        if budget:
            request["thinking"] = {"type": "enabled", "budget_tokens": budget}
        wire_tools = [to_anthropic_tool(t) for t in tools or ()]
        if forced:
            assert json_schema is not None
            wire_tools = [
                {
                    "name": ANSWER_TOOL,
                    "description": "Give the answer, as the schema says.",
                    "input_schema": json_schema,
                }
            ]
            request["tool_choice"] = {"type": "tool", "name": ANSWER_TOOL}
        if wire_tools:
            request["tools"] = wire_tools
        deltas = DeltaOnce(on_delta)

        async def attempt() -> Completion:
            forward = deltas.attempt()
            if forward is None:
                found = await self._answer(request)
            else:
                found = await self._stream(request, forward)
            return answered_by_tool(found) if forced else found

        return await with_retries(self.name, self.retry, attempt, _run_error, FAILURES)

    async def _answer(self, request: dict[str, Any]) -> Completion:
        response = await self._client.messages.create(**request)
        text, calls = [], []
        for block in response.content:
            if block.type == "text":
                text.append(block.text)
            elif block.type == "tool_use":
                calls.append(ToolCall(block.id, block.name, dict(block.input or {})))
        return Completion(
            text="".join(text),
            model=response.model or request["model"],
            usage=usage_of(response.usage),
            tool_calls=tuple(calls),
            provider=self.name,
        )

    async def _stream(self, request: dict[str, Any], on_delta: OnDelta) -> Completion:
        stream = await self._client.messages.create(**request, stream=True)
        text: list[str] = []
        blocks: dict[int, dict[str, str]] = {}
        usage, model, finished = empty_usage(), request["model"], False
        # A cancelled task leaves through ``finally``: the response is closed at once.
        try:
            async for event in stream:
                if event.type == "message_start":
                    model = event.message.model or model
                    usage = usage_of(event.message.usage)
                elif event.type == "content_block_start":
                    block = event.content_block
                    if block.type == "tool_use":
                        blocks[event.index] = {"id": block.id, "name": block.name, "json": ""}
                elif event.type == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta":
                        text.append(delta.text)
                        await on_delta(delta.text)
                    elif delta.type == "input_json_delta" and event.index in blocks:
                        blocks[event.index]["json"] += delta.partial_json
                elif event.type == "message_delta":
                    usage["output_tokens"] = event.usage.output_tokens or usage["output_tokens"]
                elif event.type == "message_stop":
                    finished = True
        finally:
            await stream.close()
        if not finished:
            raise IncompleteAnswer("the stream ended early")
        return Completion(
            text="".join(text),
            model=model,
            usage=usage,
            tool_calls=tuple(
                ToolCall(b["id"], b["name"], _object(b["json"])) for _, b in sorted(blocks.items())
            ),
            provider=self.name,
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.close()


def split_system(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Separate the system messages (joined) from the conversation, as the API wants them."""
    system = [str(m.get("content", "")) for m in messages if m.get("role") == "system"]
    conversation = [m for m in messages if m.get("role") != "system"]
    return "\n\n".join(system), conversation


def to_anthropic_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Neutral (non-system) messages as Messages API messages, one role after the other."""
    out: list[dict[str, Any]] = []
    for m in messages:
        role, content = m.get("role"), m.get("content")
        text = content if isinstance(content, str) else json.dumps(content)
        if role == "tool":
            role = "user"
            parts: list[dict[str, Any]] = [
                {"type": "tool_result", "tool_use_id": m.get("tool_call_id", ""), "content": text}
            ]
        elif role == "assistant" and m.get("tool_calls"):
            parts = [{"type": "text", "text": text}] if text else []
            parts += [
                {
                    "type": "tool_use",
                    "id": c["id"],
                    "name": c["name"],
                    "input": c.get("arguments") or {},
                }
                for c in m["tool_calls"]
            ]
        else:
            parts = [{"type": "text", "text": text}]
        if out and out[-1]["role"] == role:
            previous = out[-1]["content"]
            if isinstance(previous, str):
                previous = [{"type": "text", "text": previous}]
            out[-1]["content"] = previous + parts
        elif len(parts) == 1 and parts[0]["type"] == "text":
            out.append({"role": role, "content": text})
        else:
            out.append({"role": role, "content": parts})
    return out


def to_anthropic_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A neutral tool ``{"name", "description", "parameters"}`` as an Anthropic tool."""
    return {
        "name": tool["name"],
        "description": tool.get("description") or "",
        "input_schema": tool.get("parameters") or {"type": "object", "properties": {}},
    }


def answered_by_tool(found: Completion) -> Completion:
    """A forced ``respond`` call's input as the answer's JSON text."""
    for call in found.tool_calls:
        if call.name == ANSWER_TOOL:
            return Completion(
                text=json.dumps(call.arguments),
                model=found.model,
                usage=found.usage,
                provider=found.provider,
            )
    return found


def usage_of(usage: Any) -> dict[str, int]:
    """The four token counts of an Anthropic ``usage`` object."""
    counts = empty_usage()
    if usage is None:
        return counts
    read = getattr(usage, "cache_read_input_tokens", None) or 0
    written = getattr(usage, "cache_creation_input_tokens", None) or 0
    counts["input_tokens"] = (usage.input_tokens or 0) + read + written
    counts["output_tokens"] = usage.output_tokens or 0
    counts["cached_tokens"] = read
    return counts


def _object(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {"_raw": raw}
    return value if isinstance(value, dict) else {"_raw": raw}


def _run_error(exc: Exception) -> RunError:
    if isinstance(exc, IncompleteAnswer):
        return incomplete_error("anthropic")
    # No status (a timeout, a lost connection) is retryable; see ``api_error``.
    return api_error("anthropic", exc, str(getattr(exc, "message", exc)) or type(exc).__name__)
