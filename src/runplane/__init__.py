"""runplane: execute, track and govern runs of AI agents."""

from runplane.agents.spec import agent  # noqa: E402
from runplane.agents.tools import ToolContext, tool  # noqa: E402
from runplane.domain.errors import RunCanceled, RunError, ToolError  # noqa: E402
from runplane.engine.context import RunContext  # noqa: E402
from runplane.version import __version__ as __version__  # noqa: E402


def __getattr__(name: str) -> object:
    # The clients load lazily so that agent modules do not pay for httpx.
    if name in ("Client", "AsyncClient"):
        from runplane import client

        return getattr(client, name)
    raise AttributeError(name)


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
