"""The model-provider interface."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from runplane.domain.errors import RunError
from runplane.outbound import Refused, refusal_of


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
    # Rate limits, server errors and lost connections pass; a bad request or key does not.
    retryable = status is None or status == 429 or status >= 500
    where = f" (HTTP {status})" if status else ""
    return RunError(
        f"model provider {provider}{where}: {message}", code="model_error", retryable=retryable
    )
