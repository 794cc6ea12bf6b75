"""Model providers: the one interface agents reach a language model through (``ctx.llm``)."""

from runplane.providers.base import Completion, ModelProvider, build_provider

__all__ = ["Completion", "ModelProvider", "build_provider"]
