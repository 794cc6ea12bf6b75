"""``RunContext``: the one door from agent code to the engine.

Durability works by replay. When a run resumes after a crash, its agent function is
called again from the top; every context call has a position (``op``) in that
sequence. Calls at positions already recorded emit nothing again, and a step whose
output is recorded returns that output without running. Events are buffered and
written in one transaction at each step boundary, together with the step's row.
"""

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

from runplane.domain.errors import RunError
from runplane.domain.models import NewEvent, utcnow

FLUSH_DELAY = 0.02


@dataclass
class StepRecord:
    """A step as the store knows it, for replay and for writing."""

    number: int
    name: str
    status: str
    output: Any = None
    error: dict[str, Any] | None = None
    reused_from: str | None = None
    started_at: Any = None
    finished_at: Any = None


class Journal(Protocol):
    """Where a context writes: implemented by the engine over the store."""

    async def flush(self, events: list[NewEvent], steps: list[StepRecord], last_op: int) -> None:
        """Write buffered events and step rows, and the op position, in one transaction."""


@dataclass
class Replay:
    """What a run had recorded before this attempt."""

    last_op: int = 0
    steps: dict[int, StepRecord] = field(default_factory=dict)


class RunContext:
    """What an agent function receives: its run's data and the engine's operations."""

    def __init__(
        self,
        *,
        run_id: str,
        input: Any,
        variables: dict[str, Any],
        context: dict[str, Any],
        user_id: str | None,
        metadata: dict[str, Any],
        model: dict[str, Any] | None,
        journal: Journal,
        replay: Replay,
    ) -> None:
        self.run_id = run_id
        self.input = input
        self.variables = variables
        self.context = context
        self.user_id = user_id
        self.metadata = metadata
        self.model = model
        self._journal = journal
        self._replay = replay
        self._op = 0
        self._buffered_op = 0
        self._step_number = 0
        self._events: list[NewEvent] = []
        self._steps: list[StepRecord] = []
        self._sources: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()
        self._flush_task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self.current_step: int | None = None
        self._current_name = ""
        self.steps_finished = 0

    # -- what agents call -------------------------------------------------------------

    async def step(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` as a durable step and return its output.

        A step that completed before a crash (or before ``from_step`` in a rerun) returns
        its recorded output without running again. Sync functions run in a thread.
        """
        self._step_number += 1
        number = self._step_number
        start_op, end_op = self._next_op(), self._next_op()
        recorded = self._replay.steps.get(number)
        if recorded is not None and recorded.name == name:
            if recorded.status == "completed":
                self.steps_finished += 1
                return recorded.output
            if recorded.status == "reused":
                return await self._reuse(recorded, end_op)
        started = StepRecord(number, name, "running", started_at=utcnow())
        self.current_step, self._current_name = number, name
        if start_op > self._replay.last_op:
            self._buffer("step.started", {"number": number, "name": name}, started, start_op)
        await self._flush()
        try:
            if inspect.iscoroutinefunction(fn):
                output = await fn(*args, **kwargs)
            else:
                output = await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))
                if inspect.isawaitable(output):
                    output = await output
        except (RunError, Exception) as exc:
            error = error_info(exc, number)
            failed = StepRecord(number, name, "failed", error=error, finished_at=utcnow())
            data = {"number": number, "name": name, "error": error}
            self._buffer("step.failed", data, failed, end_op)
            await self._flush()
            self.current_step = None
            exc.runplane_step = number  # type: ignore[union-attr]
            raise
        output = _jsonable(output)
        done = StepRecord(number, name, "completed", output=output, finished_at=utcnow())
        data = {"number": number, "name": name, "output": output}
        self._buffer("step.completed", data, done, end_op)
        self.current_step = None
        self.steps_finished += 1
        self._schedule_flush()
        return output

    async def emit(self, type: str, data: dict[str, Any] | None = None) -> None:
        """Append an event of any type to the run's log."""
        op = self._next_op()
        if op > self._replay.last_op:
            self._buffer(type, dict(data or {}), None, op)
        await self._flush()

    async def plan(self, content: Any, format: str = "text") -> None:
        """Record the agent's plan (``format`` is ``text`` or ``json``)."""
        await self.emit("planning", {"format": format, "content": content})

    async def reason(self, text: str) -> None:
        """Record a piece of the agent's reasoning."""
        await self.emit("reasoning", {"text": text})

    async def source(self, title: str, url: str | None = None, **extra: Any) -> None:
        """Record a source the agent used; it is listed in the run's result."""
        entry = {"title": title, "url": url, **extra}
        self._sources.append(entry)
        await self.emit("source", entry)

    async def tool_call(self, name: str, arguments: dict[str, Any]) -> None:
        """Record that the agent is calling a tool."""
        await self.emit("tool_call", {"name": name, "arguments": arguments})

    async def tool_result(self, name: str, output: Any, duration_ms: float | None = None) -> None:
        """Record what a tool call returned."""
        await self.emit(
            "tool_result",
            {"name": name, "output": _jsonable(output), "duration_ms": duration_ms, "ok": True},
        )

    # -- what the engine calls --------------------------------------------------------

    @property
    def sources(self) -> list[dict[str, Any]]:
        """The sources recorded so far in this attempt."""
        return list(self._sources)

    def take_pending(
        self, interrupted: dict[str, Any] | None = None
    ) -> tuple[list[NewEvent], list[StepRecord], int]:
        """Hand the buffered events and steps to the engine's final transaction.

        ``interrupted`` is the error of a step stopped by a timeout or a cancel; the
        step in progress, if any, is recorded as failed with it.
        """
        if interrupted is not None and self.current_step is not None:
            number, name = self.current_step, self._current_name
            failed = StepRecord(number, name, "failed", error=interrupted, finished_at=utcnow())
            data = {"number": number, "name": name, "error": interrupted}
            self._buffer("step.failed", data, failed, self._op)
            self.current_step = None
        events, steps = self._events, self._steps
        self._events, self._steps = [], []
        return events, steps, max(self._buffered_op, self._replay.last_op)

    def begin(self, event: NewEvent) -> None:
        """Buffer the run's first event of this attempt; it is written with the next flush."""
        self._events.append(event)
        self._schedule_flush()

    async def close(self) -> None:
        """Stop background flushing; what is still buffered goes to the final write."""
        self._closing.set()
        task = self._flush_task
        if task is not None and not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                pass

    # -- internals --------------------------------------------------------------------

    def _next_op(self) -> int:
        self._op += 1
        return self._op

    def _buffer(self, type_: str, data: dict[str, Any], step: StepRecord | None, op: int) -> None:
        self._buffered_op = op
        self._events.append(NewEvent(type_, data, utcnow()))
        if step is not None:
            self._steps.append(step)

    async def _reuse(self, recorded: StepRecord, op: int) -> Any:
        if op > self._replay.last_op:
            done = StepRecord(
                recorded.number,
                recorded.name,
                "reused",
                output=recorded.output,
                reused_from=recorded.reused_from,
                finished_at=utcnow(),
            )
            data = {
                "number": recorded.number,
                "name": recorded.name,
                "output": recorded.output,
                "reused_from": recorded.reused_from,
            }
            self._buffer("step.completed", data, done, op)
        self.steps_finished += 1
        self._schedule_flush()
        return recorded.output

    async def _flush(self) -> None:
        async with self._lock:
            if self._events or self._steps:
                events, steps, last_op = self.take_pending()
                await self._journal.flush(events, steps, last_op)

    def _schedule_flush(self) -> None:
        # A step's completion is written with the next step's start, or with the run's
        # end (one transaction per step); if the agent does something else for a while
        # first, this writes it on its own after FLUSH_DELAY.
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        try:
            await asyncio.wait_for(self._closing.wait(), FLUSH_DELAY)
        except TimeoutError:
            await self._flush()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


def error_info(exc: BaseException, step: int | None) -> dict[str, Any]:
    """The structured ``error`` of a run or step that raised ``exc``."""
    if isinstance(exc, RunError):
        return {
            "code": exc.code,
            "message": exc.message,
            "step": step,
            "retryable": exc.retryable,
        }
    return {
        "code": "agent_error",
        "message": f"{type(exc).__name__}: {exc}",
        "step": step,
        "retryable": False,
    }
