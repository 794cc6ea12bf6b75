"""Tool-call governance: the one place where a tool call is allowed, approved and made.

Every call an agent makes through ``ctx.tool`` passes, in order: the tool must exist,
the run's allow-list must admit its integration, its arguments must validate, a person
must approve it when the run's policy says so, the acting user's credential must be
there when the tool needs one, a call left in doubt by a crash is settled, and the
tenant's rate limit must grant it. Only then does it run, as a durable step between a
``tool_call`` and a ``tool_result`` event. Plans asked for approval (``ON_START``) are
governed here too.

In a replay (``engine/recording.py``) a call is answered from the recorded run instead:
no approval, no credential, no rate limit, and the tool is not called.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypedDict

from runplane.agents.tools import Records, ToolContext, ToolSpec
from runplane.domain.errors import Invalid, RunError, ToolError
from runplane.domain.events import (
    ApprovalRequest,
    AuthRequiredData,
    PlanningData,
    ToolCallData,
    ToolResultData,
    WaitingOn,
)
from runplane.domain.json import JSON, JSONObject
from runplane.domain.lifecycle import RunStatus
from runplane.domain.policy import ApprovalRule, RateLimit, matching_rule
from runplane.engine import tracing
from runplane.engine.journal import Journal, call, jsonable
from runplane.engine.outcome import Suspend
from runplane.engine.recording import RecordedCall, Recording


class ModelReply(TypedDict):
    """What the model answered, which model it was, and the tokens it cost.

    ``tool_calls`` are ``{"id", "name", "arguments"}``; ``citations`` ``{"id", "title",
    "quote"}``; ``usage`` has input, output, cached and reasoning tokens.
    """

    text: str
    model: str
    provider: str
    usage: dict[str, int]
    tool_calls: list[JSONObject]
    citations: list[JSONObject]


class ModelCall(TypedDict, total=False):
    """What one model call asks for beyond its messages (all optional)."""

    model: str | None
    temperature: float | None
    reasoning_effort: str | None
    json_mode: bool
    json_schema: JSONObject | None
    tools: list[JSONObject] | None
    documents: list[JSONObject] | None


# Receives the model's text as it is written.
OnText = Callable[[str], Awaitable[None]]


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
        self, messages: list[JSONObject], call: ModelCall, on_text: OnText | None = None
    ) -> ModelReply:
        """Ask the tenant's model (the offline provider when none is configured)."""


@dataclass(frozen=True)
class RunPolicy:
    """What a run may do and what it must ask first."""

    integrations: list[str] | Literal["*"] = "*"
    approval: str = "NONE"
    rules: list[ApprovalRule] = field(default_factory=list)
    plans_first: bool = False
    describe: str = "Run the agent on its input."

    def allows(self, spec: ToolSpec) -> bool:
        """Tell whether the run's allow-list admits the tool (tools of no integration always)."""
        if spec.integration is None or self.integrations == "*":
            return True
        return spec.integration in self.integrations

    def approval_reason(self, spec: ToolSpec, arguments: Mapping[str, JSON]) -> str | None:
        """Why this call needs a person's approval, or None."""
        if self.approval == "ON_TOOL_CALL":
            return "the run's approval strategy is ON_TOOL_CALL"
        if spec.always_approve:
            return f"{spec.name} always asks for approval"
        match = matching_rule(self.rules, spec.name, arguments)
        return None if match is None else match.reason


@dataclass(frozen=True)
class Caller:
    """Who a run's tool calls act for."""

    run_id: str
    tenant_id: str
    user_id: str | None


class Governor:
    """Governs one run's tool calls and plan approvals, writing through its journal."""

    def __init__(
        self,
        journal: Journal,
        gate: Gate | None,
        policy: RunPolicy,
        caller: Caller,
        recording: Recording | None = None,
    ):
        self.journal = journal
        self.gate = gate
        self.policy = policy
        self.caller = caller
        self.planned = False
        # A replay's recorded calls: its tool calls are answered from them, not made.
        self.recording = recording

    def allowed_tools(self) -> list[JSONObject]:
        """The tools this run may call, as ``GET /v1/tools`` shows them."""
        if self.gate is None:
            return []
        return [spec.public() for spec in self.gate.tools.values() if self.policy.allows(spec)]

    # -- plans --------------------------------------------------------------------------

    async def plan(self, content: JSON, format: str) -> None:
        """Record a plan; under ``ON_START`` the run waits here for a person's approval."""
        j = self.journal
        op, approval_op = j.next_op(), j.next_op()
        plan: PlanningData = {"format": format, "content": content}
        j.emit_at(op, "planning", plan)
        j.set_field("plan", plan)
        if self.policy.approval == "ON_START" and not self.planned:
            if "plan" not in j.replay.approvals:
                raise Suspend(
                    RunStatus.PAUSED,
                    approval_op,
                    approval={"key": "plan", "kind": "plan", "request": {"plan": plan}},
                    waiting_on={"approval": "plan"},
                )
        self.planned = True
        await j.flush()

    async def ensure_planned(self) -> None:
        """Under ``ON_START``, ask approval of a plain plan for agents that make none."""
        if self.policy.approval == "ON_START" and not self.policy.plans_first:
            await self.plan(self.policy.describe, "text")

    # -- tool calls ---------------------------------------------------------------------

    async def tool(self, name: str, arguments: dict[str, object]) -> JSON:
        """Make one governed tool call (see the module's docstring for the order)."""
        with tracing.span("tool", {"runplane.tool": name}):
            return await self._tool(name, arguments)

    async def _tool(self, name: str, arguments: dict[str, object]) -> JSON:
        j = self.journal
        if not self.planned and self.policy.approval == "ON_START":
            await self.plan(self.policy.describe, "text")
        call_op, approval_op, auth_op, start_op, end_op, result_op = (j.next_op() for _ in range(6))
        spec = self.gate.tools.get(name) if self.gate is not None else None
        if spec is None:
            raise await self._refuse(call_op, name, "unknown_tool", f"there is no tool {name!r}")
        if not self.policy.allows(spec):
            allowed = self.policy.integrations
            raise await self._refuse(
                call_op,
                name,
                "tool_not_allowed",
                f"this run may not use the integration {spec.integration!r} "
                f"(allowed: {', '.join(allowed) if isinstance(allowed, list) and allowed else 'none'})",
            )
        try:
            args: JSONObject = spec.validate(arguments)
        except Invalid as exc:
            raise await self._refuse(call_op, name, "invalid_arguments", exc.message) from None
        number = j.next_step_number()
        recorded = j.recorded(number, name)
        called: ToolCallData = {
            "name": name,
            "integration": spec.integration,
            "arguments": args,
            "step": number,
        }
        j.emit_at(call_op, "tool_call", called)
        if recorded is not None and recorded.status in ("completed", "reused"):
            j.take_step_number(number)
            if self.recording is not None:
                # A resumed replay: keep the recording's use in step with what ran before.
                self.recording.take(name, args)
            return await j.replayed(recorded, end_op)
        if self.recording is not None:
            answer = self.recording.take(name, args)
            if answer is None:
                raise await self._diverged(name, args, approval_op, result_op)
            return await self._replay(answer, number, start_op, end_op, result_op)
        args = await self._approve(spec, number, args, approval_op, result_op)
        credential = await self._credential(spec, auth_op, result_op)
        assert self.gate is not None
        tool_ctx = ToolContext(
            run_id=self.caller.run_id,
            tenant_id=self.caller.tenant_id,
            user_id=self.caller.user_id,
            integration=spec.integration,
            credential=credential,
            records=self.gate.records,
            idempotency_key=f"{self.caller.run_id}:{number}",
        )
        if recorded is not None and recorded.status == "running" and not spec.idempotent:
            settled = await self._settle_in_doubt(spec, number, args, tool_ctx)
            if settled is not None:
                j.take_step_number(number)
                output = j.complete_step(number, name, settled, end_op, settled="skip")
                j.emit_at(result_op, "tool_result", _result(name, True, output, 0.0))
                return output
        await self._wait_for_rate(spec)
        j.take_step_number(number)
        began = time.perf_counter()
        kwargs: dict[str, object] = dict(args)
        if spec.context_param:
            kwargs[spec.context_param] = tool_ctx
        try:
            output = await j.run_step(
                number, name, spec.fn, (), kwargs, start_op, end_op, journal_first=True
            )
        except Exception as exc:
            ms = _ms(began)
            code = exc.code if isinstance(exc, ToolError) else "tool_failed"
            data = _result(name, False, None, ms, error=f"{type(exc).__name__}: {exc}", code=code)
            j.emit_at(result_op, "tool_result", data)
            await j.flush()
            if isinstance(exc, ToolError):
                raise
            err = ToolError(f"{name} failed: {type(exc).__name__}: {exc}", code="tool_failed")
            err.runplane_step = number  # type: ignore[attr-defined]
            raise err from exc
        j.emit_at(result_op, "tool_result", _result(name, True, output, _ms(began)))
        j.schedule_flush()
        return output

    async def _replay(
        self, answer: RecordedCall, number: int, start_op: int, end_op: int, result_op: int
    ) -> JSON:
        """Answer a replay's call from the recording, as a step of its own (tool not called)."""
        j, name = self.journal, answer.name
        j.take_step_number(number)

        async def recorded_answer() -> JSON:
            if not answer.ok:
                raise answer.failure()
            return answer.output

        try:
            output = await j.run_step(number, name, recorded_answer, (), {}, start_op, end_op)
        except ToolError as exc:
            data = _result(
                name,
                False,
                None,
                0.0,
                error=answer.error or exc.message,
                rejected=answer.rejected,
                code=exc.code,
                replayed=True,
            )
            j.emit_at(result_op, "tool_result", data)
            await j.flush()
            raise
        j.emit_at(result_op, "tool_result", _result(name, True, output, 0.0, replayed=True))
        j.schedule_flush()
        return output

    async def _diverged(self, name: str, args: JSONObject, op: int, result_op: int) -> ToolError:
        """A replay's call the recorded run never made: recorded as a divergence, refused."""
        assert self.recording is not None
        reason = self.recording.why_not(name, args)
        j = self.journal
        j.emit_at(op, "replay.divergence", {"name": name, "arguments": args, "reason": reason})
        failed = _result(
            name, False, None, 0.0, error=reason, code="replay_divergence", replayed=True
        )
        j.emit_at(result_op, "tool_result", failed)
        await j.flush()
        return ToolError(f"{name} was not called: {reason}", code="replay_divergence")

    async def _refuse(self, op: int, name: str, code: str, message: str) -> ToolError:
        self.journal.emit_at(op, "error", {"code": code, "message": message, "tool": name})
        await self.journal.flush()
        return ToolError(message, code=code)

    async def _approve(
        self, spec: ToolSpec, number: int, args: JSONObject, op: int, result_op: int
    ) -> JSONObject:
        reason = self.policy.approval_reason(spec, args)
        if reason is None:
            return args
        key = f"tool:{number}"
        decision = self.journal.replay.approvals.get(key)
        if decision is None:
            request: ApprovalRequest = {
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
            self.journal.emit_at(result_op, "tool_result", data)
            await self.journal.flush()
            raise ToolError(
                f"the call to {spec.name} was rejected" + (f": {comment}" if comment else ""),
                code="tool_rejected",
            )
        edited = decision.get("arguments")
        if edited is not None:
            return spec.validate(edited)
        return args

    async def _credential(self, spec: ToolSpec, op: int, result_op: int) -> str | None:
        if not spec.requires_auth:
            return None
        assert self.gate is not None and spec.integration is not None
        user_id = self.caller.user_id
        if not user_id:
            raise await self._refuse(
                result_op,
                spec.name,
                "no_user",
                f"{spec.name} acts as a user, and this run has no user_id",
            )
        credential = await self.gate.credential(spec.integration)
        if credential is None:
            wait: WaitingOn = {"integration": spec.integration, "user_id": user_id}
            event: AuthRequiredData = {
                "integration": spec.integration,
                "user_id": user_id,
                "tool": spec.name,
                "connect": f"PUT /v1/users/{user_id}/connections/{spec.integration}",
            }
            raise Suspend(
                RunStatus.AUTH_REQUIRED, op, event=("auth.required", event), waiting_on=wait
            )
        return credential

    async def _settle_in_doubt(
        self, spec: ToolSpec, number: int, args: JSONObject, tool_ctx: ToolContext
    ) -> JSON:
        """A call that started but has no recorded result: repeat it, skip it, or fail.

        Returns the output to record for a skip, None to repeat.
        """
        key = f"doubt:{number}"
        decided = self.journal.replay.approvals.get(key)
        action: object
        result: object
        if decided is not None:
            action, result = decided.get("decision"), decided.get("result")
        elif spec.reconcile is not None:
            kwargs: dict[str, object] = dict(args)
            if spec.context_param:
                kwargs[spec.context_param] = tool_ctx
            verdict = await call(spec.reconcile, (), kwargs)
            chosen = verdict if isinstance(verdict, Mapping) else {}
            action, result = chosen.get("action"), chosen.get("result")
            self.journal.note(
                "reasoning",
                {"text": f"{spec.name} was in doubt; its reconcile hook chose {action}"},
            )
        else:
            request: ApprovalRequest = {
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
        if action == "skip":
            return jsonable(result)
        if action == "fail":
            raise RunError(
                f"the in-doubt call to {spec.name} was failed by a person", code="in_doubt"
            )
        return None

    async def _wait_for_rate(self, spec: ToolSpec) -> None:
        if spec.rate_limit is None or self.gate is None:
            return
        key = spec.integration or spec.name
        while (wait := await self.gate.take_rate(key, spec.rate_limit)) > 0:
            self.journal.note(
                "rate_limited",
                {
                    "tool": spec.name,
                    "key": key,
                    "limit": spec.rate_limit.text,
                    "wait_seconds": wait,
                },
            )
            await self.journal.flush()
            await asyncio.sleep(wait)


def _ms(began: float) -> float:
    return round((time.perf_counter() - began) * 1000, 3)


def _result(
    name: str,
    ok: bool,
    output: object,
    ms: float,
    *,
    error: str | None = None,
    rejected: bool = False,
    comment: str | None = None,
    code: str | None = None,
    replayed: bool = False,
) -> ToolResultData:
    data: ToolResultData = {"name": name, "ok": ok, "output": jsonable(output), "duration_ms": ms}
    if error is not None:
        data["error"] = error
    if code is not None:
        data["code"] = code
    if rejected:
        data["rejected"] = True
        data["comment"] = comment
    if replayed:
        data["replayed"] = True
    return data
