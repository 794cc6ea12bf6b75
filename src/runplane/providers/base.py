"""The model-provider interface.

Messages are provider-neutral dicts; each provider turns them into its own wire format:

- ``{"role": "system" | "user", "content": str}``
- ``{"role": "assistant", "content": str, "tool_calls": [{"id", "name", "arguments"}]}``
- ``{"role": "tool", "tool_call_id": str, "content": str}`` (a tool's result)

``tools`` are ``[{"name", "description", "parameters"}]`` (parameters: JSON Schema);
``documents`` are ``[{"id", "title", "text"}]`` (the run's files): a remote model gets
them in its prompt (``documents_prompt``), the offline provider retrieves from them.
"""

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from runplane.domain.errors import RunError
from runplane.outbound import Refused, refusal_of

# Token counts of one model call; every Completion carries all four.
USAGE_KEYS = ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")
# ``reasoning_effort`` values a step or run may ask for.
REASONING_EFFORTS = ("minimal", "low", "medium", "high")

# Called with each piece of text as the model writes it (streaming).
OnDelta = Callable[[str], Awaitable[None]]


def empty_usage() -> dict[str, int]:
    """Usage with every count at zero."""
    return dict.fromkeys(USAGE_KEYS, 0)


@dataclass(frozen=True)
class ToolCall:
    """A tool call the model asked for."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Completion:
    """One answer of a model: its text or tool calls, the model and the tokens it cost."""

    text: str
    model: str
    usage: dict[str, int] = field(default_factory=empty_usage)
    tool_calls: tuple[ToolCall, ...] = ()
    provider: str = ""
    # Passages the answer rests on (the offline provider's citations): {"id", "title", "quote"}.
    citations: tuple[dict[str, Any], ...] = ()


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
        json_schema: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
        reasoning_effort: str | None = None,
        documents: list[dict[str, Any]] | None = None,
        on_delta: OnDelta | None = None,
    ) -> Completion:
        """Answer a conversation.

        ``json_mode`` asks for one JSON object as the whole answer, ``json_schema`` for
        one matching that schema (structured output); ``on_delta`` receives the text as
        it is written (the call streams when it is given).
        """

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most providers hold nothing
        """Release the provider's connections."""


def documents_prompt(documents: list[dict[str, Any]] | None) -> str:
    """The run's documents as a block of a system prompt (empty without documents)."""
    if not documents:
        return ""
    parts = [f"[{d.get('id')}] {d.get('title')}\n{d.get('text', '')}" for d in documents]
    return "Documents you may cite by their [id]:\n\n" + "\n\n".join(parts)


def refused_error(provider: str, refused: Refused) -> RunError:
    """The run error for a model server the outgoing-call fence refuses (not retried)."""
    return RunError(
        f"model provider {provider}: the model server is refused ({refused.reason}); "
        "set RUNPLANE_ALLOW_PRIVATE_NETWORKS or RUNPLANE_OUTBOUND_ALLOW to reach it",
        code="model_error",
        retryable=False,
    )


def api_error(provider: str, exc: Exception, message: str) -> RunError:
    """The run error for a provider client's failure: refused, or retried when it may pass."""
    refused = exc if isinstance(exc, Refused) else refusal_of(exc)
    if refused is not None:
        return refused_error(provider, refused)
    status = getattr(exc, "status_code", None)
    where = f" (HTTP {status})" if status else ""
    if status in (401, 403):
        return RunError(
            f"model provider {provider}{where}: the API key was refused: {message}",
            code="provider_auth",
            retryable=False,
        )
    # Rate limits, server errors and lost connections pass; a bad request or key does not.
    retryable = status is None or status == 429 or status >= 500
    return RunError(
        f"model provider {provider}{where}: {message}", code="model_error", retryable=retryable
    )
