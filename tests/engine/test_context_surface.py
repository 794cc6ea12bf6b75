"""``RunContext`` offers agents what docs/architecture.md lists, and nothing of the engine's."""

from typing import Any

import pytest

from runplane import RunContext, RunError
from runplane.domain.models import NewEvent, StepRecord
from runplane.engine.context import ENGINE_EVENTS
from runplane.engine.governance import Caller, Governor, RunPolicy
from runplane.engine.journal import AtEnd, Journal, Replay

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only

DOCUMENTED = {
    "run_id",
    "tenant_id",
    "input",
    "variables",
    "context",
    "user_id",
    "metadata",
    "model",
    "step",
    "tool",
    "allowed_tools",
    "has_llm",
    "llm",
    "complete",
    "plan",
    "reason",
    "source",
    "emit",
    "files",
    "file",
    "run_agent",
}


class Recorded:
    """A journal sink that keeps what would be written, in memory."""

    def __init__(self) -> None:
        self.at_end: list[AtEnd] = []
        self.starting = False
        self.writes: list[list[str]] = []

    async def flush(
        self, events: list[NewEvent], steps: list[StepRecord], last_op: int, fields: dict[str, Any]
    ) -> None:
        self.writes.append([e.type for e in events])

    async def hold(self) -> None:
        return None


def _context() -> tuple[RunContext, Recorded]:
    sink = Recorded()
    journal = Journal(sink, Replay())
    governor = Governor(journal, None, RunPolicy(), Caller("run_x", "t", None))
    ctx = RunContext(
        run_id="run_x",
        tenant_id="t",
        input=None,
        variables={},
        context={},
        user_id=None,
        metadata={},
        model=None,
        journal=journal,
        governor=governor,
    )
    return ctx, sink


def test_an_agent_sees_only_the_documented_surface() -> None:
    ctx, _ = _context()
    public = {name for name in dir(ctx) if not name.startswith("_")}
    assert public == DOCUMENTED


@pytest.mark.parametrize("type_", sorted(ENGINE_EVENTS))
async def test_an_agent_cannot_write_an_event_the_engine_writes(type_: str) -> None:
    ctx, sink = _context()
    with pytest.raises(RunError) as refused:
        await ctx.emit(type_, {"name": "send_email", "arguments": {}})
    assert refused.value.code == "reserved_event"
    assert sink.writes == []


async def test_an_agent_writes_its_own_events_and_reasoning() -> None:
    ctx, sink = _context()
    await ctx.emit("progress", {"percent": 50})
    await ctx.reason("half way")
    assert sink.writes == [["progress"], ["reasoning"]]


async def test_a_tool_call_with_no_tools_loaded_is_refused_with_an_error_event() -> None:
    ctx, sink = _context()
    with pytest.raises(RunError) as refused:
        await ctx.tool("send_email", to="team")
    assert refused.value.code == "unknown_tool"
    assert sink.writes == [["error"]]
