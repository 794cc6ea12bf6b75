"""``RunContext``: the one door from agent code to the engine.

Durability works by replay. When a run resumes after a crash, its agent function is
called again from the top; every context call has a position (``op``) in that
sequence. Calls at positions already recorded emit nothing again, and a step whose
output is recorded returns that output without running. Events are buffered and
written in one transaction at each step boundary, together with the step's row.
"""

import asyncio
import inspect
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import anyio

from runplane.agents.tools import Records, ToolContext, ToolSpec
from runplane.domain.errors import Invalid, RunError, ToolError
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import NewEvent, utcnow
from runplane.domain.policy import RateLimit, matching_rule

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

    # Writes (of other tables) that commit in the same transaction as the run's end.
    at_end: list[Callable[[Any], Any]]

    async def flush(
        self,
        events: list[NewEvent],
        steps: list[StepRecord],
        last_op: int,
        fields: dict[str, Any] | None = None,
    ) -> None:
        """Write buffered events, step rows, run fields and the op position in one transaction."""


class Gate(Protocol):
    """What tool calls need from outside the run: implemented by the services."""

    tools: Mapping[str, ToolSpec]
    has_llm: bool
    records: Records

    async def credential(self, integration: str) -> str | None:
        """The run's user's credential for an integration, if connected."""

    async def take_rate(self, key: str, limit: RateLimit) -> float:
        """Draw from a shared bucket: 0 if granted, else seconds to wait."""

    async def complete(
        self, messages: list[dict[str, Any]], json_mode: bool, model: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Ask the configured model: ``{"text", "model", "usage"}``."""


@dataclass(frozen=True)
class RunPolicy:
    """What a run may do and what it must ask first."""

    integrations: list[str] | Literal["*"] = "*"
    approval: str = "NONE"
    rules: list[dict[str, Any]] = field(default_factory=list)
    plans_first: bool = False
    describe: str = "Run the agent on its input."

    def allows(self, spec: ToolSpec) -> bool:
        """Tell whether the run's allow-list admits the tool (tools of no integration always)."""
        if spec.integration is None or self.integrations == "*":
            return True
        return spec.integration in self.integrations

    def approval_reason(self, spec: ToolSpec, arguments: dict[str, Any]) -> str | None:
        """Why this call needs a person's approval, or None."""
        if self.approval == "ON_TOOL_CALL":
            return "the run's approval strategy is ON_TOOL_CALL"
        if spec.always_approve:
            return f"{spec.name} always asks for approval"
        rule = matching_rule(self.rules, spec.name, arguments)
        if rule is not None:
            when = f" when {rule['when']}" if rule.get("when") else ""
            return f"approval rule: {rule['tool']}{when}"
        return None


class Suspend(BaseException):  # noqa: N818 - a signal, not an error
    """Raised in agent code when the run must wait for a person or a credential.

    The engine records the wait and ends this attempt; the run holds nothing while it
    waits, and replays up to here when it resumes.
    """

    def __init__(
        self,
        status: RunStatus,
        op: int | None,
        *,
        approval: dict[str, Any] | None = None,
        event: tuple[str, dict[str, Any]] | None = None,
        waiting_on: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(str(status))
        self.status = status
        self.op = op
        self.approval = approval
        self.event = event
        self.waiting_on = waiting_on or {}


@dataclass
class Replay:
    """What a run had recorded before this attempt."""

    last_op: int = 0
    steps: dict[int, StepRecord] = field(default_factory=dict)
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)


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
        tenant_id: str = "",
        gate: Gate | None = None,
        policy: RunPolicy | None = None,
    ) -> None:
        self.run_id = run_id
        self.tenant_id = tenant_id
        self._gate = gate
        self._policy = policy or RunPolicy()
        self._planned = False
        self._unsaved_output = False
        self._fields: dict[str, Any] = {}
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
        # How long finished work may wait to ride with a later write.
        self.flush_delay = FLUSH_DELAY
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
        return await self._run_step(number, name, fn, args, kwargs, start_op, end_op)

    async def _run_step(
        self,
        number: int,
        name: str,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        start_op: int,
        end_op: int,
        journal_first: bool = False,
    ) -> Any:
        started = StepRecord(number, name, "running", started_at=utcnow())
        self.current_step, self._current_name = number, name
        if start_op > self._replay.last_op:
            self._buffer("step.started", {"number": number, "name": name}, started, start_op)
        if journal_first or self._unsaved_output:
            # A finished step's output is saved before the next step runs, so a crash in
            # this one never repeats it; and a tool call's start is saved before the call,
            # which is how recovery knows a non-idempotent call is in doubt.
            await self._flush()
        else:
            # Nothing to protect yet: the start rides with the next write (a one-step
            # run makes a single transaction), or goes alone after FLUSH_DELAY.
            self._schedule_flush()
        try:
            output = await _call(fn, args, kwargs)
        except (RunError, Exception) as exc:
            error = error_info(exc, number)
            failed = StepRecord(number, name, "failed", error=error, finished_at=utcnow())
            data = {"number": number, "name": name, "error": error}
            self._buffer("step.failed", data, failed, end_op)
            await self._flush()
            self.current_step = None
            exc.runplane_step = number  # type: ignore[union-attr]
            raise
        return self._complete_step(number, name, output, end_op)

    def _complete_step(self, number: int, name: str, output: Any, end_op: int, **extra: Any) -> Any:
        output = _jsonable(output)
        done = StepRecord(number, name, "completed", output=output, finished_at=utcnow())
        self._buffer(
            "step.completed",
            {"number": number, "name": name, "output": output, **extra},
            done,
            end_op,
        )
        self.current_step = None
        self.steps_finished += 1
        self._unsaved_output = True
        self._schedule_flush()
        return output

    async def record_step(self, name: str, output: Any) -> None:
        """Record a step that ran outside ``step()`` (a graph's node), with its output.

        Such steps are not replayed: a graph resumes from its own checkpoints.
        """
        self._step_number += 1
        number, start_op, end_op = self._step_number, self._next_op(), self._next_op()
        now = utcnow()
        self._buffer(
            "step.started",
            {"number": number, "name": name},
            StepRecord(number, name, "running", started_at=now),
            start_op,
        )
        self._complete_step(number, name, output, end_op)

    def recorded_step_names(self) -> list[str]:
        """The names of the steps earlier attempts recorded, in order."""
        return [self._replay.steps[n].name for n in sorted(self._replay.steps)]

    def at_end(self, write: Callable[[Any], Any]) -> None:
        """Have ``write(conn)`` commit together with the run's end (or its pause)."""
        self._journal.at_end.append(write)

    def continue_numbering(self) -> None:
        """Number new steps and events after what earlier attempts recorded."""
        self._op = max(self._op, self._replay.last_op)
        self._step_number = max(self._step_number, max(self._replay.steps, default=0))

    # -- tools ------------------------------------------------------------------------

    def allowed_tools(self) -> list[dict[str, Any]]:
        """The tools this run may call, as ``GET /v1/tools`` shows them."""
        gate = self._gate
        if gate is None:
            return []
        return [spec.public() for spec in gate.tools.values() if self._policy.allows(spec)]

    async def tool(self, name: str, /, **arguments: Any) -> Any:
        """Call a tool: the allow-list, approvals, the user's credential and rate limits apply.

        Raises ``ToolError`` when the call is refused, rejected or fails; the agent may
        catch it. A call completed before a crash returns its recorded output.
        """
        if not self._planned and self._policy.approval == "ON_START":
            await self.plan(self._policy.describe)
        call_op, approval_op, auth_op, start_op, end_op, result_op = (
            self._next_op() for _ in range(6)
        )
        spec = self._gate.tools.get(name) if self._gate is not None else None
        if spec is None:
            raise await self._refuse(call_op, name, "unknown_tool", f"there is no tool {name!r}")
        if not self._policy.allows(spec):
            allowed = self._policy.integrations
            raise await self._refuse(
                call_op,
                name,
                "tool_not_allowed",
                f"this run may not use the integration {spec.integration!r} "
                f"(allowed: {', '.join(allowed) if isinstance(allowed, list) and allowed else 'none'})",
            )
        try:
            args = spec.validate(arguments)
        except Invalid as exc:
            raise await self._refuse(call_op, name, "invalid_arguments", exc.message) from None
        number = self._step_number + 1
        recorded = self._replay.steps.get(number)
        if recorded is not None and recorded.name != name:
            recorded = None
        self._emit_at(
            call_op,
            "tool_call",
            {"name": name, "integration": spec.integration, "arguments": args, "step": number},
        )
        if recorded is not None and recorded.status in ("completed", "reused"):
            self._step_number = number
            if recorded.status == "reused":
                return await self._reuse(recorded, end_op)
            self.steps_finished += 1
            return recorded.output
        args = await self._approve(spec, number, args, approval_op, result_op)
        credential = await self._credential(spec, auth_op, result_op)
        tool_ctx = ToolContext(
            run_id=self.run_id,
            tenant_id=self.tenant_id,
            user_id=self.user_id,
            integration=spec.integration,
            credential=credential,
            records=self._gate.records,  # type: ignore[union-attr]
        )
        if recorded is not None and recorded.status == "running" and not spec.idempotent:
            settled = await self._settle_in_doubt(spec, number, args, tool_ctx)
            if settled is not None:
                self._step_number = number
                output = self._complete_step(number, name, settled, end_op, settled="skip")
                self._emit_at(result_op, "tool_result", _result(name, True, output, 0.0))
                return output
        await self._wait_for_rate(spec)
        self._step_number = number
        began = time.perf_counter()
        kwargs = dict(args)
        if spec.context_param:
            kwargs[spec.context_param] = tool_ctx
        try:
            output = await self._run_step(
                number, name, spec.fn, (), kwargs, start_op, end_op, journal_first=True
            )
        except Exception as exc:
            ms = _ms(began)
            data = _result(name, False, None, ms, error=f"{type(exc).__name__}: {exc}")
            self._emit_at(result_op, "tool_result", data)
            await self._flush()
            if isinstance(exc, ToolError):
                raise
            err = ToolError(f"{name} failed: {type(exc).__name__}: {exc}", code="tool_failed")
            err.runplane_step = number  # type: ignore[attr-defined]
            raise err from exc
        self._emit_at(result_op, "tool_result", _result(name, True, output, _ms(began)))
        self._schedule_flush()
        return output

    async def _refuse(self, op: int, name: str, code: str, message: str) -> ToolError:
        self._emit_at(op, "error", {"code": code, "message": message, "tool": name})
        await self._flush()
        return ToolError(message, code=code)

    async def _approve(
        self, spec: ToolSpec, number: int, args: dict[str, Any], op: int, result_op: int
    ) -> dict[str, Any]:
        reason = self._policy.approval_reason(spec, args)
        if reason is None:
            return args
        key = f"tool:{number}"
        decision = self._replay.approvals.get(key)
        if decision is None:
            request = {
                "tool": spec.name,
                "integration": spec.integration,
                "arguments": args,
                "reason": reason,
                "step": number,
            }
            raise Suspend(
                RunStatus.PAUSED,
                op,
                approval={"key": key, "kind": "tool_call", "request": request},
                waiting_on={"approval": key},
            )
        if decision.get("decision") == "reject":
            comment = decision.get("comment")
            data = _result(spec.name, False, None, 0.0, rejected=True, comment=comment)
            self._emit_at(result_op, "tool_result", data)
            await self._flush()
            raise ToolError(
                f"the call to {spec.name} was rejected" + (f": {comment}" if comment else ""),
                code="tool_rejected",
            )
        if decision.get("arguments") is not None:
            return spec.validate(decision["arguments"])
        return args

    async def _credential(self, spec: ToolSpec, op: int, result_op: int) -> str | None:
        if not spec.requires_auth:
            return None
        assert self._gate is not None and spec.integration is not None
        if not self.user_id:
            raise await self._refuse(
                result_op,
                spec.name,
                "no_user",
                f"{spec.name} acts as a user, and this run has no user_id",
            )
        credential = await self._gate.credential(spec.integration)
        if credential is None:
            wait = {"integration": spec.integration, "user_id": self.user_id}
            event = {
                **wait,
                "tool": spec.name,
                "connect": f"PUT /v1/users/{self.user_id}/connections/{spec.integration}",
            }
            raise Suspend(
                RunStatus.AUTH_REQUIRED, op, event=("auth.required", event), waiting_on=wait
            )
        return credential

    async def _settle_in_doubt(
        self, spec: ToolSpec, number: int, args: dict[str, Any], tool_ctx: ToolContext
    ) -> Any | None:
        """A call that started but has no recorded result: repeat it, skip it, or fail.

        Returns the output to record for a skip, None to repeat.
        """
        key = f"doubt:{number}"
        decision = self._replay.approvals.get(key)
        if decision is None and spec.reconcile is not None:
            kwargs = dict(args)
            if spec.context_param:
                kwargs[spec.context_param] = tool_ctx
            verdict = await _call(spec.reconcile, (), kwargs)
            action = verdict.get("action") if isinstance(verdict, dict) else None
            decision = {"decision": action, "result": (verdict or {}).get("result")}
            self._note(
                "reasoning",
                {"text": f"{spec.name} was in doubt; its reconcile hook chose {action}"},
            )
        if decision is None:
            request = {
                "tool": spec.name,
                "integration": spec.integration,
                "arguments": args,
                "step": number,
                "reason": "the process stopped during this call; it may or may not have happened",
                "choices": ["repeat", "skip", "fail"],
            }
            raise Suspend(
                RunStatus.PAUSED,
                None,
                approval={"key": key, "kind": "in_doubt", "request": request},
                waiting_on={"approval": key},
            )
        action = decision.get("decision")
        if action == "skip":
            return decision.get("result")
        if action == "fail":
            raise RunError(
                f"the in-doubt call to {spec.name} was failed by a person", code="in_doubt"
            )
        return None

    async def _wait_for_rate(self, spec: ToolSpec) -> None:
        if spec.rate_limit is None or self._gate is None:
            return
        key = spec.integration or spec.name
        while (wait := await self._gate.take_rate(key, spec.rate_limit)) > 0:
            self._note(
                "rate_limited",
                {
                    "tool": spec.name,
                    "key": key,
                    "limit": spec.rate_limit.text,
                    "wait_seconds": wait,
                },
            )
            await self._flush()
            await asyncio.sleep(wait)

    # -- models -----------------------------------------------------------------------

    @property
    def has_llm(self) -> bool:
        """Whether a model provider (other than the offline default) is configured."""
        return bool(self._gate is not None and self._gate.has_llm)

    async def llm(
        self, messages: list[dict[str, Any]], *, json_mode: bool = False, name: str = "llm"
    ) -> str:
        """Ask the configured model, as a durable step; return its text."""
        if not self.has_llm:
            raise RunError(
                "no model provider is configured (RUNPLANE_MODEL_PROVIDER)", code="no_model"
            )
        assert self._gate is not None
        out = await self.step(name, self._gate.complete, messages, json_mode, self.model)
        return str(out["text"])

    async def emit(self, type: str, data: dict[str, Any] | None = None) -> None:
        """Append an event of any type to the run's log."""
        op = self._next_op()
        if op > self._replay.last_op:
            self._buffer(type, dict(data or {}), None, op)
        await self._flush()

    async def plan(self, content: Any, format: str = "text") -> None:
        """Record the agent's plan (``format`` is ``text`` or ``json``).

        Under the ``ON_START`` approval strategy the run waits here until a person
        approves the plan (a rejected plan cancels the run).
        """
        op, approval_op = self._next_op(), self._next_op()
        plan = {"format": format, "content": content}
        self._emit_at(op, "planning", plan)
        self._fields["plan"] = plan
        if self._policy.approval == "ON_START" and not self._planned:
            if "plan" not in self._replay.approvals:
                raise Suspend(
                    RunStatus.PAUSED,
                    approval_op,
                    approval={"key": "plan", "kind": "plan", "request": {"plan": plan}},
                    waiting_on={"approval": "plan"},
                )
        self._planned = True
        await self._flush()

    async def ensure_planned(self) -> None:
        """Under ``ON_START``, ask approval of a plain plan for agents that make none."""
        if self._policy.approval == "ON_START" and not self._policy.plans_first:
            await self.plan(self._policy.describe)

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

    def take_fields(self) -> dict[str, Any]:
        """Run columns the agent set (its plan), not yet written."""
        fields, self._fields = self._fields, {}
        return fields

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

    def _emit_at(self, op: int, type_: str, data: dict[str, Any]) -> None:
        if op > self._replay.last_op:
            self._buffer(type_, data, None, op)

    def _note(self, type_: str, data: dict[str, Any]) -> None:
        # An event outside the op sequence (a rate-limit wait, a reconcile verdict): it
        # is not replayed, and may be written again if the attempt is retried.
        self._events.append(NewEvent(type_, data, utcnow()))

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
            if self._events or self._steps or self._fields:
                self._unsaved_output = False
                events, steps, last_op = self.take_pending()
                await self._journal.flush(events, steps, last_op, self.take_fields())

    def _schedule_flush(self) -> None:
        # A step's completion is written with the next step's start, or with the run's
        # end (one transaction per step); if the agent does something else for a while
        # first, this writes it on its own after FLUSH_DELAY.
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        try:
            await asyncio.wait_for(self._closing.wait(), self.flush_delay)
        except TimeoutError:
            await self._flush()


async def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if inspect.iscoroutinefunction(fn):
        return await fn(*args, **kwargs)
    output = await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))
    if inspect.isawaitable(output):
        output = await output
    return output


def _ms(began: float) -> float:
    return round((time.perf_counter() - began) * 1000, 3)


def _result(name: str, ok: bool, output: Any, ms: float, **extra: Any) -> dict[str, Any]:
    return {"name": name, "ok": ok, "output": _jsonable(output), "duration_ms": ms, **extra}


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
