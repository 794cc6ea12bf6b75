"""The journal of one attempt of a run: replay numbering, durable steps, buffered events.

Durability works by replay. When a run resumes after a crash, its agent function is
called again from the top; every journaled call has a position (``op``) in that
sequence. Calls at positions already recorded emit nothing again, and a step whose
output is recorded returns that output without running. Events are buffered and
written in one transaction at each step boundary, together with the step's row.
"""

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import ParamSpec, Protocol, cast

import anyio

from runplane.domain.events import (
    ErrorData,
    EventData,
    StepCompletedData,
    StepFailedData,
    StepStartedData,
)
from runplane.domain.json import JSON, JSONObject
from runplane.domain.models import ApprovalRecord, NewEvent, StepRecord, utcnow
from runplane.engine import tracing
from runplane.engine.metering import Meter
from runplane.engine.outcome import WriteFailed, error_info
from runplane.store.db import Conn
from runplane.store.runs import Fenced

FLUSH_DELAY = 0.02
# What a finished step's output says about the step beyond it (a model call's model,
# tokens and credits): ``StepRecord`` fields by name.
Describe = Callable[[JSON], Mapping[str, object]]
# A write of other tables that commits with the run's end (or its pause).
AtEnd = Callable[[Conn], Awaitable[None]]
# The parameters of a step's function.
P = ParamSpec("P")


class Sink(Protocol):
    """Where a journal's buffered work is written: the engine's run writer."""

    at_end: list[AtEnd]
    # The run's start (queued -> running) waits for the next write.
    starting: bool

    async def flush(
        self,
        events: list[NewEvent],
        steps: list[StepRecord],
        last_op: int,
        fields: dict[str, object],
    ) -> None:
        """Write buffered events, step rows, run fields and the op position in one transaction."""

    async def hold(self) -> None:
        """Return when a side effect may start: raise ``Fenced`` if the run is not ours."""


@dataclass
class Replay:
    """What a run had recorded before this attempt."""

    last_op: int = 0
    steps: dict[int, StepRecord] = field(default_factory=dict)
    approvals: dict[str, ApprovalRecord] = field(default_factory=dict)


class Journal:
    """Numbers an attempt's operations, runs its durable steps and buffers its events."""

    def __init__(self, sink: Sink, replay: Replay, flush_delay: float = FLUSH_DELAY) -> None:
        self.replay = replay
        # How long finished work may wait to ride with a later write.
        self.flush_delay = flush_delay
        self.current_step: int | None = None
        self.steps_finished = 0
        self.sources: list[JSONObject] = []
        # The files the run's steps saved (``ctx.file``), for its result.
        self.files: list[JSONObject] = []
        self._sink = sink
        self._op = 0
        self._buffered_op = 0
        self._step_number = 0
        self._current_name = ""
        self._unsaved_output = False
        self._events: list[NewEvent] = []
        self._steps: list[StepRecord] = []
        self._fields: dict[str, object] = {}
        self._lock = asyncio.Lock()
        self._flush_task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        # The error of a write that failed for good: the attempt cannot go on.
        self._failed: Exception | None = None
        # What model calls cost and may spend (``engine/metering.py``); None: not metered.
        self.meter: Meter | None = None

    # -- numbering ----------------------------------------------------------------------

    def next_op(self) -> int:
        """The position of the next journaled call."""
        self._op += 1
        return self._op

    def next_step_number(self) -> int:
        """The number the next step will have (not taken yet)."""
        return self._step_number + 1

    def take_step_number(self, number: int) -> None:
        """Say that the step ``number`` is being run (or replayed) now."""
        self._step_number = number

    def artifact_step(self) -> int:
        """The step a file saved now belongs to: the one running, else the last (0: none)."""
        return self.current_step if self.current_step is not None else self._step_number

    def continue_numbering(self) -> None:
        """Number new steps and events after what earlier attempts recorded."""
        self._op = max(self._op, self.replay.last_op)
        self._step_number = max(self._step_number, max(self.replay.steps, default=0))

    def recorded(self, number: int, name: str) -> StepRecord | None:
        """The step ``number`` as an earlier attempt recorded it, if it had this name."""
        step = self.replay.steps.get(number)
        return step if step is not None and step.name == name else None

    def recorded_step_names(self) -> list[str]:
        """The names of the steps earlier attempts recorded, in order."""
        return [self.replay.steps[n].name for n in sorted(self.replay.steps)]

    # -- steps --------------------------------------------------------------------------

    async def step(
        self, name: str, fn: Callable[P, object], *args: P.args, **kwargs: P.kwargs
    ) -> JSON:
        """Run ``fn`` as a durable step, or return the output an earlier attempt recorded."""
        return await self.described_step(name, None, fn, args, kwargs)

    async def described_step(
        self,
        name: str,
        describe: Describe | None,
        fn: Callable[..., object],
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
    ) -> JSON:
        """``step``, with ``describe(output)`` adding fields to the completed step's row."""
        self._step_number += 1
        number = self._step_number
        start_op, end_op = self.next_op(), self.next_op()
        recorded = self.recorded(number, name)
        if recorded is not None and recorded.status in ("completed", "reused"):
            return await self.replayed(recorded, end_op)
        return await self.run_step(
            number, name, fn, args, kwargs, start_op, end_op, describe=describe
        )

    def will_replay(self, name: str) -> bool:
        """Tell whether the next step, named ``name``, returns a recorded output unrun."""
        recorded = self.recorded(self.next_step_number(), name)
        return recorded is not None and recorded.status in ("completed", "reused")

    async def run_step(
        self,
        number: int,
        name: str,
        fn: Callable[..., object],
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
        start_op: int,
        end_op: int,
        journal_first: bool = False,
        describe: Describe | None = None,
    ) -> JSON:
        """Run one step now: its start, its call, then its completion or failure."""
        started = StepRecord(number, name, "running", started_at=utcnow())
        self.current_step, self._current_name = number, name
        if start_op > self.replay.last_op:
            began: StepStartedData = {"number": number, "name": name}
            self._buffer("step.started", began, started, start_op)
        if journal_first or self._unsaved_output:
            # A finished step's output is saved before the next step runs, so a crash in
            # this one never repeats it; and a tool call's start is saved before the call,
            # which is how recovery knows a non-idempotent call is in doubt.
            await self.flush()
        else:
            # Nothing to protect yet: the start rides with the next write (a one-step
            # run makes a single transaction), or goes alone after the flush delay.
            self.schedule_flush()
        # A process cut off from the others starts no new step (self-fencing).
        await self._sink.hold()
        try:
            with tracing.span("step", {"runplane.step": name, "runplane.step_number": number}):
                output = await call(fn, args, kwargs)
        except Exception as exc:
            error = error_info(exc, number)
            failed = StepRecord(number, name, "failed", error=error, finished_at=utcnow())
            data: StepFailedData = {"number": number, "name": name, "error": error}
            self._buffer("step.failed", data, failed, end_op)
            await self.flush()
            self.current_step = None
            exc.runplane_step = number  # type: ignore[attr-defined]
            raise
        return self.complete_step(number, name, output, end_op, describe=describe)

    def complete_step(
        self,
        number: int,
        name: str,
        output: object,
        end_op: int,
        settled: str | None = None,
        describe: Describe | None = None,
    ) -> JSON:
        """Buffer a step's completion with its output; return the output as recorded.

        ``settled`` says how a call left in doubt was settled without running (``skip``);
        ``describe(output)`` gives more fields of the step's row (a model call's usage).
        """
        recorded = jsonable(output)
        done = StepRecord(number, name, "completed", output=recorded, finished_at=utcnow())
        if describe is not None:
            for key, value in describe(recorded).items():
                setattr(done, key, value)
        data: StepCompletedData = {"number": number, "name": name, "output": recorded}
        if settled is not None:
            data["settled"] = settled
        self._buffer("step.completed", data, done, end_op)
        self.current_step = None
        self.steps_finished += 1
        self._unsaved_output = True
        self.schedule_flush()
        return recorded

    async def replayed(self, recorded: StepRecord, op: int) -> JSON:
        """The output of a step an earlier attempt (or run) recorded, without running it."""
        self.steps_finished += 1
        if recorded.status == "completed":
            return recorded.output
        if op > self.replay.last_op:
            done = StepRecord(
                recorded.number,
                recorded.name,
                "reused",
                output=recorded.output,
                reused_from=recorded.reused_from,
                finished_at=utcnow(),
            )
            data: StepCompletedData = {
                "number": recorded.number,
                "name": recorded.name,
                "output": recorded.output,
                "reused_from": recorded.reused_from,
            }
            self._buffer("step.completed", data, done, op)
        self.schedule_flush()
        return recorded.output

    async def record_step(self, name: str, output: object) -> None:
        """Record a step that ran outside ``step()`` (a graph's node), with its output.

        Such steps are not replayed: a graph resumes from its own checkpoints.
        """
        self._step_number += 1
        number, start_op, end_op = self._step_number, self.next_op(), self.next_op()
        began: StepStartedData = {"number": number, "name": name}
        started = StepRecord(number, name, "running", started_at=utcnow())
        self._buffer("step.started", began, started, start_op)
        self.complete_step(number, name, output, end_op)

    # -- events and run fields ----------------------------------------------------------

    def emit_at(self, op: int, type_: str, data: EventData) -> None:
        """Buffer an event at its position, unless an earlier attempt recorded it."""
        if op > self.replay.last_op:
            self._buffer(type_, data, None, op)

    def note(self, type_: str, data: EventData) -> None:
        """Buffer an event outside the op sequence (a rate-limit wait, a reconcile verdict).

        It is not replayed, and may be written again if the attempt is retried.
        """
        self._events.append(NewEvent(type_, data, utcnow()))

    def set_field(self, name: str, value: object) -> None:
        """Have a run column (the plan) written with the next flush."""
        self._fields[name] = value

    def at_end(self, write: AtEnd) -> None:
        """Have ``write(conn)`` commit together with the run's end (or its pause)."""
        self._sink.at_end.append(write)

    # -- writing ------------------------------------------------------------------------

    async def flush(self) -> None:
        """Write what is buffered now, in one transaction.

        Once a write has failed, every later one raises ``WriteFailed``: what the failed
        write held is gone from the buffer, so nothing may be written after it.
        """
        async with self._lock:
            if self._failed is not None:
                raise WriteFailed(self._failed)
            if self._events or self._steps or self._fields or self._sink.starting:
                self._unsaved_output = False
                events, steps, last_op = self.take_pending()
                try:
                    await self._sink.flush(events, steps, last_op, self.take_fields())
                except Exception as exc:
                    self._failed = exc
                    raise WriteFailed(exc) from exc

    def schedule_flush(self) -> None:
        """Write what is buffered after the flush delay, unless a write takes it first."""
        # A step's completion is written with the next step's start, or with the run's
        # end (one transaction per step); if the agent does something else for a while
        # first, this writes it on its own.
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        try:
            await asyncio.wait_for(self._closing.wait(), self.flush_delay)
        except TimeoutError:
            # A failure is kept (``_failed``) and raised to the attempt by the next flush
            # or by ``close``, not left in this task for nobody to see; a fenced writer
            # refuses the rest and has the attempt stopped.
            with contextlib.suppress(WriteFailed, Fenced):
                await self.flush()

    def take_fields(self) -> dict[str, object]:
        """Run columns set (the plan) and not yet written."""
        fields, self._fields = self._fields, {}
        return fields

    def take_pending(
        self, interrupted: ErrorData | None = None
    ) -> tuple[list[NewEvent], list[StepRecord], int]:
        """Hand the buffered events and steps to a write.

        ``interrupted`` is the error of a step stopped by a timeout or a cancel; the
        step in progress, if any, is recorded as failed with it.
        """
        if interrupted is not None and self.current_step is not None:
            number, name = self.current_step, self._current_name
            failed = StepRecord(number, name, "failed", error=interrupted, finished_at=utcnow())
            data: StepFailedData = {"number": number, "name": name, "error": interrupted}
            self._buffer("step.failed", data, failed, self._op)
            self.current_step = None
        events, steps = self._events, self._steps
        self._events, self._steps = [], []
        return events, steps, max(self._buffered_op, self.replay.last_op)

    async def close(self) -> None:
        """Stop background flushing; what is still buffered goes to the final write."""
        self._closing.set()
        task = self._flush_task
        if task is not None and not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                pass
        if self._failed is not None:
            raise WriteFailed(self._failed)

    def _buffer(self, type_: str, data: EventData, step: StepRecord | None, op: int) -> None:
        self._buffered_op = op
        self._events.append(NewEvent(type_, data, utcnow()))
        if step is not None:
            self._steps.append(step)


async def call(
    fn: Callable[..., object], args: tuple[object, ...], kwargs: Mapping[str, object]
) -> object:
    """Call agent or tool code: coroutines on the loop, plain functions in a thread."""
    if inspect.iscoroutinefunction(fn):
        return await fn(*args, **kwargs)
    output = await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))
    if inspect.isawaitable(output):
        output = await output
    return output


def jsonable(value: object) -> JSON:
    """A pydantic model as its JSON data; anything else as it is.

    What agent and tool code returns is recorded as JSON (step outputs, tool results,
    run results), so it must be a value JSON can hold: the type says so, nothing checks.
    """
    if hasattr(value, "model_dump"):
        return cast(JSON, value.model_dump(mode="json"))
    return cast(JSON, value)
