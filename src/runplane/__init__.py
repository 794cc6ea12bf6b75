"""runplane: execute, track and govern runs of AI agents."""

from typing import TYPE_CHECKING

from runplane.version import __version__ as __version__

if TYPE_CHECKING:
    from runplane.agents.spec import agent
    from runplane.agents.tools import ToolContext, tool
    from runplane.client import AsyncClient, Client
    from runplane.domain.errors import RunCanceled, RunError, ToolError
    from runplane.engine.context import RunContext

# Each public name loads on first use: the CLI and the clients never pay for the engine
# (its database layer alone is a third of a second), nor agent modules for httpx.
_LAZY = {
    "agent": "runplane.agents.spec",
    "tool": "runplane.agents.tools",
    "ToolContext": "runplane.agents.tools",
    "RunCanceled": "runplane.domain.errors",
    "RunError": "runplane.domain.errors",
    "ToolError": "runplane.domain.errors",
    "RunContext": "runplane.engine.context",
    "Client": "runplane.client",
    "AsyncClient": "runplane.client",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'runplane' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AsyncClient",
    "Client",
    "RunCanceled",
    "RunContext",
    "RunError",
    "ToolContext",
    "ToolError",
    "agent",
    "tool",
]
