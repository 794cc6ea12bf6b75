"""The offline provider: no model at all, deterministic answers (placeholder, see issue 15)."""

import json
from typing import Any

from runplane.providers.base import Completion, ModelProvider, OnDelta, empty_usage


class OfflineProvider(ModelProvider):
    """Answers without a model: the last user message echoed, or ``{}`` when JSON is asked."""

    name = "offline"
    default_model = "offline"

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
        """Echo the request (the real offline provider replaces this)."""
        asked: dict[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
        text = json.dumps({}) if json_mode or json_schema else str(asked.get("content", ""))
        if on_delta is not None and text:
            await on_delta(text)
        # Tokens counted simply: one per word, of the messages in and the answer out.
        usage = empty_usage()
        usage["input_tokens"] = sum(len(str(m.get("content") or "").split()) for m in messages)
        usage["output_tokens"] = len(text.split())
        return Completion(text=text, model=self.default_model, usage=usage, provider=self.name)
