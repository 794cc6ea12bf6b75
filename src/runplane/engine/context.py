"""``RunContext``: the one door from agent code to the engine.

What an agent may call is listed here and nothing else: durable steps, governed tool
calls, the model, plans, reasoning, sources and events of its own. How those are
journaled lives in ``engine/journal.py``; how tool calls are governed, in
``engine/governance.py``.
"""

import os
from collections.abc import Callable, Mapping, Sequence
from typing import ParamSpec

from runplane.domain.errors import RunError
from runplane.domain.json import JSON, JSONObject
from runplane.engine import tracing
from runplane.engine.children import Children
from runplane.engine.deltas import Deltas
from runplane.engine.files import FileHandle, RunFiles
from runplane.engine.governance import Gate, Governor, ModelCall, ModelReply
from runplane.engine.journal import Journal
from runplane.engine.metering import Meter
from runplane.providers.base import USAGE_KEYS

P = ParamSpec("P")

# Events only the engine writes: an agent's own events may not pose as them.
ENGINE_EVENTS = frozenset(
    {
        "status",
        "takeover",
        "plan",
        "planning",
        "step.started",
        "message.delta",
        "step.completed",
        "step.failed",
        "tool_call",
        "tool_result",
        "approval.required",
        "approval.resolved",
        "auth.required",
        "rate_limited",
        "replay.divergence",
        "interrupt",
        "result",
        "error",
        "reconciled",
        "budget.exceeded",
        "file.created",
    }
)


class RunContext:
    """What an agent function receives: its run's data and the engine's operations."""

    def __init__(
        self,
        *,
        run_id: str,
        tenant_id: str,
        input: JSON,
        variables: JSONObject,
        context: JSONObject,
        user_id: str | None,
        metadata: JSONObject,
        model: JSONObject | None,
        journal: Journal,
        governor: Governor,
        files: Sequence[FileHandle] = (),
        saver: RunFiles | None = None,
        children: Children | None = None,
    ) -> None:
        self.run_id = run_id
        self.tenant_id = tenant_id
        self.input = input
        self.variables = variables
        self.context = context
        self.user_id = user_id
        self.metadata = metadata
        self.model = model
        # The files the run was given (``file_ids``, then its ``site_ids``' files).
        self.files: list[FileHandle] = list(files)
        self._journal = journal
        self._governor = governor
        self._saver = saver
        # How the run starts child runs (``run_agent``).
        self._children = children

    async def step(
        self, name: str, fn: Callable[P, object], *args: P.args, **kwargs: P.kwargs
    ) -> JSON:
        """Run ``fn(*args, **kwargs)`` as a durable step and return its output.

        A step that completed before a crash (or before ``from_step`` in a rerun) returns
        its recorded output without running again. Sync functions run in a thread. The
        output is recorded as JSON (a pydantic model as its JSON data).
        """
        return await self._journal.step(name, fn, *args, **kwargs)

    async def tool(self, name: str, /, **arguments: object) -> JSON:
        """Call a tool: the allow-list, approvals, the user's credential and rate limits apply.

        Raises ``ToolError`` when the call is refused, rejected or fails; the agent may
        catch it. A call completed before a crash returns its recorded output.
        """
        return await self._governor.tool(name, arguments)

    def allowed_tools(self) -> list[JSONObject]:
        """The tools this run may call, as ``GET /v1/tools`` shows them."""
        return self._governor.allowed_tools()

    @property
    def has_llm(self) -> bool:
        """Whether a model provider (other than the offline default) is configured."""
        gate = self._governor.gate
        return bool(gate is not None and gate.has_llm)

    async def llm(
        self, messages: Sequence[Mapping[str, JSON]], *, json_mode: bool = False, name: str = "llm"
    ) -> str:
        """Ask the configured model, as a durable step; return its text."""
        if not self.has_llm:
            raise RunError(
                "no model provider is configured (RUNPLANE_MODEL_PROVIDER)", code="no_model"
            )
        reply = await self.complete(messages, json_mode=json_mode, name=name)
        return str(reply["text"])

    async def complete(
        self,
        messages: Sequence[Mapping[str, JSON]],
        *,
        model: str | None = None,
        reasoning_effort: str | None = None,
        json_mode: bool = False,
        json_schema: JSONObject | None = None,
        tools: Sequence[JSONObject] | None = None,
        documents: Sequence[JSONObject] | None = None,
        name: str = "model",
    ) -> JSONObject:
        """Ask the model as a durable step; return its reply as recorded.

        The reply has ``text``, ``tool_calls``, ``citations``, ``model``, ``provider`` and
        ``usage``. The text streams to the run's log as ``message.delta`` events. With no
        provider configured the offline provider answers. A call recorded before a crash
        is not made again.
        """
        gate = self._governor.gate
        if gate is None:
            raise RunError("this run has no model", code="no_model")
        settings = self.model or {}
        temperature = settings.get("temperature")
        call: ModelCall = {
            "model": model or _text(settings.get("name")),
            "temperature": temperature if isinstance(temperature, int | float) else None,
            "reasoning_effort": reasoning_effort or _text(settings.get("reasoning_effort")),
            "json_mode": json_mode,
            "json_schema": json_schema,
            "tools": list(tools) if tools else None,
            "documents": list(documents) if documents else None,
        }
        journal, meter = self._journal, self._journal.meter
        if meter is not None and not journal.will_replay(name):
            # A budget the call would pass pauses the run here (or fails it at a ceiling).
            await meter.admit(name, call.get("model"), messages)
        cost: list[float | None] = []  # the call's credits, once priced

        def describe(output: JSON) -> dict[str, object]:
            reply = output if isinstance(output, dict) else {}
            used = reply.get("usage")
            usage = {k: _count(used.get(k)) if isinstance(used, dict) else 0 for k in USAGE_KEYS}
            credits = cost[0] if cost else None
            if meter is not None:
                for column, value in meter.add(usage, credits).items():
                    journal.set_field(column, value)
            return {
                "model": _text(reply.get("model")) or call.get("model"),
                "reasoning_effort": call.get("reasoning_effort"),
                "usage": usage,
                "credits": credits,
            }

        deltas = Deltas(journal)
        asked = [dict(m) for m in messages]
        args = (gate, asked, call, deltas, meter, cost)
        reply = await journal.described_step(name, describe, _ask, args, {})
        assert isinstance(reply, dict)  # a ModelReply, as recorded
        return reply

    async def plan(self, content: JSON, format: str = "text") -> None:
        """Record the agent's plan (``format`` is ``text`` or ``json``).

        Under the ``ON_START`` approval strategy the run waits here until a person
        approves the plan (a rejected plan cancels the run).
        """
        await self._governor.plan(content, format)

    async def reason(self, text: str) -> None:
        """Record a piece of the agent's reasoning."""
        await self.emit("reasoning", {"text": text})

    async def source(self, title: str, url: str | None = None, **extra: JSON) -> None:
        """Record a source the agent used; it is listed in the run's result."""
        entry: JSONObject = {"title": title, "url": url, **extra}
        self._journal.sources.append(entry)
        await self.emit("source", entry)

    async def file(
        self,
        name: str,
        data: bytes | bytearray | str | os.PathLike[str],
        media_type: str | None = None,
    ) -> FileHandle:
        """Save a file (bytes, or the path of one) on the current step; return its handle.

        The media type is told from the content (a ``media_type`` that lies about it fails
        the run); a step replayed after a crash, or reused by a rerun, does not save it
        twice. Saved files are listed with their step and in the run's result.
        """
        if self._saver is None:
            raise RunError("this run cannot save files", code="no_file_store")
        return await self._saver.save(name, data, media_type)

    async def run_agent(self, name: str, input: JSON = None, wait: bool = True) -> JSON:
        """Start a run of agent ``name`` as a child of this one (``trigger="agent"``).

        The start is a durable step: a replay after a crash finds the same child and
        never starts a second. With ``wait`` the run waits for the child without holding
        a slot and returns its ``result.content``; a child that failed or was canceled
        raises ``RunError`` with its error code. Without ``wait``, returns the child's id.
        """
        if self._children is None:
            raise RunError("this run cannot start other runs", code="no_child_runs")
        return await self._children.run_agent(name, input, wait)

    async def emit(self, type: str, data: Mapping[str, JSON] | None = None) -> None:
        """Append an event of the agent's own to the run's log (not one the engine writes)."""
        if type in ENGINE_EVENTS:
            raise RunError(
                f"{type!r} events are written by the engine, not by agents",
                code="reserved_event",
            )
        journal = self._journal
        journal.emit_at(journal.next_op(), type, dict(data or {}))
        await journal.flush()


def _text(value: JSON) -> str | None:
    return value if isinstance(value, str) else None


def _count(value: JSON) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


async def _ask(
    gate: Gate,
    messages: list[JSONObject],
    call: ModelCall,
    deltas: Deltas,
    meter: Meter | None,
    cost: list[float | None],
) -> ModelReply:
    try:
        with tracing.span("model", {"runplane.model": call.get("model") or "default"}):
            reply = await gate.complete(messages, call, deltas.add)
    finally:
        await deltas.close()
    if meter is not None:
        cost.append(await meter.cost(reply["model"], call.get("model"), reply["usage"]))
    return reply
