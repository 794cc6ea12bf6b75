"""Test agents whose model calls go through ``ctx.complete``, and a priced test provider.

``MeteredProvider`` stands in for a hosted model at the edge (as a stub server would):
it answers as the model asked for, streams its text, and reports fixed token counts, so
that credits can be checked to the cent.
"""

import asyncio
from typing import Any

from runplane import RunContext, agent
from runplane.providers.base import Completion, ModelProvider, OnDelta

ANY_OBJECT = {"type": "object"}
# What every call of the test provider reports using.
CALL_USAGE = {
    "input_tokens": 1000,
    "output_tokens": 200,
    "cached_tokens": 100,
    "reasoning_tokens": 50,
}


class MeteredProvider(ModelProvider):
    """Answers ``echo: <prompt>``; ``stream N [DELAY]`` streams N words, DELAY s apart."""

    name = "openai"  # it stands in for the server's OpenAI provider
    default_model = "gpt-4o-mini"

    def __init__(self) -> None:
        self.calls = 0

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
        """Answer, streaming the answer through ``on_delta`` piece by piece."""
        self.calls += 1
        prompt = str(messages[-1].get("content", ""))
        words = prompt.split()
        if words[:1] == ["stream"]:
            count, delay = int(words[1]), float(words[2]) if len(words) > 2 else 0.0
            pieces = [f"w{i} " for i in range(count)]
        else:
            pieces, delay = [f"echo: {prompt}"], 0.0
        for piece in pieces:
            if on_delta is not None:
                await on_delta(piece)
            if delay:
                await asyncio.sleep(delay)
        return Completion(
            text="".join(pieces),
            model=model or self.default_model,
            usage=dict(CALL_USAGE),
            provider=self.name,
        )


@agent("metered_chat", input_schema=ANY_OBJECT, output="json")
async def chat(ctx: RunContext, input: dict[str, Any]) -> Any:
    """Ask the model ``calls`` times (``prompt``, ``model``, ``effort``); return the answers."""
    answers = []
    for n in range(int(input.get("calls", 1))):
        reply = await ctx.complete(
            [{"role": "user", "content": str(input.get("prompt", "hello"))}],
            model=input.get("model"),
            reasoning_effort=input.get("effort"),
            name=f"ask {n + 1}",
        )
        answers.append(reply["text"])
    return {"answers": answers}
