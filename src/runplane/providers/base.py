"""The model-provider interface."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


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
