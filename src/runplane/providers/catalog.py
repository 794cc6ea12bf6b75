"""The model catalogue: which provider serves a model name, its context window and prices.

Prices are US dollars per million tokens; a tenant may override them (``/v1/models``).
One credit is one US cent of estimated model cost.
"""

from dataclasses import dataclass

CREDITS_PER_USD = 100.0


@dataclass(frozen=True)
class ModelInfo:
    """One model of the catalogue."""

    name: str
    provider: str
    context_window: int
    input_per_mtok: float
    output_per_mtok: float
    cached_per_mtok: float = 0.0

    def credits(self, usage: dict[str, int]) -> float:
        """The estimated credits of a call's usage (reasoning tokens are billed as output)."""
        cached = usage.get("cached_tokens", 0)
        fresh = max(0, usage.get("input_tokens", 0) - cached)
        dollars = (
            fresh * self.input_per_mtok
            + cached * self.cached_per_mtok
            + usage.get("output_tokens", 0) * self.output_per_mtok
        ) / 1_000_000
        return round(dollars * CREDITS_PER_USD, 6)


BUILTIN_MODELS: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo("offline", "offline", 1_000_000, 0.0, 0.0),
        ModelInfo("gpt-4o-mini", "openai", 128_000, 0.15, 0.60, 0.075),
        ModelInfo("gpt-4o", "openai", 128_000, 2.50, 10.00, 1.25),
        ModelInfo("gpt-4.1-mini", "openai", 1_047_576, 0.40, 1.60, 0.10),
        ModelInfo("o4-mini", "openai", 200_000, 1.10, 4.40, 0.275),
        ModelInfo("claude-3-5-haiku-latest", "anthropic", 200_000, 0.80, 4.00, 0.08),
        ModelInfo("claude-sonnet-4-0", "anthropic", 200_000, 3.00, 15.00, 0.30),
    )
}


def find_model(name: str) -> ModelInfo | None:
    """The built-in catalogue's entry for a model name (``provider/model`` also accepted)."""
    if name in BUILTIN_MODELS:
        return BUILTIN_MODELS[name]
    _, _, bare = name.partition("/")
    found = BUILTIN_MODELS.get(bare) if bare else None
    return found if found is not None and name.startswith(found.provider + "/") else None
