"""Example Python scorers that benchmarks name by import path (``module:function``)."""

from typing import Any


def has_message(output: Any, reference: Any, facts: Any) -> bool:
    """Pass when the output is an object with a non-empty ``message``."""
    return isinstance(output, dict) and bool(output.get("message"))
