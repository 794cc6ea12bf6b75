"""Run events: every type the engine writes, its payload, its wording, and the hash chain.

``EVENTS`` is the one table of event types: each entry names the payload's shape
(a ``TypedDict``), the label a timeline shows, and how the event reads in one line
(``describe_event``, which the CLI and the console both use). Agents may also emit
types of their own (``RunContext.emit``); those read by a fallback.

Each event's hash covers the previous event's hash and the event's own content, so
changing, removing or reordering any event breaks every hash after it.
"""

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, NotRequired, TypeAlias, TypedDict

from runplane.domain.json import JSON, JSONObject, as_list, as_object

# -- payloads --------------------------------------------------------------------------


class ErrorData(TypedDict):
    """``error``, and a failed step's ``error``: why a run, a step or a tool call failed."""

    code: str
    message: str
    step: NotRequired[int | None]
    retryable: NotRequired[bool]
    tool: NotRequired[str]  # a refused tool call (unknown, not allowed, bad arguments)


class WaitingOn(TypedDict, total=False):
    """What a paused or ``auth_required`` run waits for."""

    approval: str  # the wait's key: ``plan``, ``tool:N`` or ``doubt:N``
    approval_id: str
    integration: str
    user_id: str
    interrupt: JSONObject  # a graph's interrupt: ``thread_id``, ``interrupts``
    values: JSON  # a graph's state where it stopped
    child_run_id: str  # a child run (``ctx.run_agent``) whose end the run waits for
    kind: str  # ``budget``: a model call would pass a budget (``budget`` says which)
    budget: "BudgetNeed"


class CancelReceipt(TypedDict):
    """How a canceled run stopped."""

    requested_at: str
    stopped_at: str
    step: int | None
    children_ended: bool
    reason: NotRequired[str]


class StatusNote(TypedDict, total=False):
    """What a ``status`` event says besides the status."""

    waiting_on: WaitingOn  # paused, auth_required
    receipt: CancelReceipt  # canceled
    reason: str  # running again, and why (a connection was given)


class StatusData(StatusNote):
    """``status``: the run moved to ``status`` (every transition appends one)."""

    status: str


class TakeoverData(TypedDict):
    """``takeover``: an attempt claimed a run whose previous attempt never ended.

    ``previous`` died or was cut off (and was declared dead); its writes are refused
    from ``epoch`` on. The same executor in both is a process that restarted, or that
    made an attempt again after a database failure.
    """

    executor: str
    previous: str | None
    epoch: int


class PlanningData(TypedDict):
    """``planning``: the agent's plan, text or JSON (a planner's is ``{"steps": [...]}``)."""

    format: str
    content: JSON


class ReasoningData(TypedDict):
    """``reasoning``: a piece of the agent's reasoning."""

    text: str


class MessageDeltaData(TypedDict):
    """``message.delta``: text a model wrote in a step, streamed (pieces coalesced)."""

    step: int | None
    index: int
    text: str


class BudgetNeed(TypedDict):
    """What a run paused on a budget needs: which limit, what is used, what the call needs."""

    scope: str  # ``run``, ``agent`` or ``tenant``
    unit: str  # ``credits`` or ``tokens``
    limit: float
    used: float
    needs: float  # the next model call's estimate
    step: str  # the name of the model call's step


class StepsPreparedData(TypedDict):
    """``steps.prepared``: a step agent's step about to ask its model (written by the runner)."""

    step: str
    model: str
    reasoning_effort: str | None
    default: JSONObject
    overridden: bool
    tools: list[str]
    instructions: str


class StepStartedData(TypedDict):
    """``step.started``."""

    number: int
    name: str


class StepCompletedData(TypedDict):
    """``step.completed``: its output, or the output a rerun reused."""

    number: int
    name: str
    output: JSON
    reused_from: NotRequired[str | None]
    settled: NotRequired[str]  # ``skip``: an in-doubt call a person (or its hook) skipped


class StepFailedData(TypedDict):
    """``step.failed``."""

    number: int
    name: str
    error: ErrorData


class ToolCallData(TypedDict):
    """``tool_call``: a tool is called (``integration`` and ``step`` when the engine calls it)."""

    name: str
    arguments: JSONObject
    integration: NotRequired[str | None]
    step: NotRequired[int]


class ToolResultData(TypedDict):
    """``tool_result``: what a call returned, or that it failed or was rejected."""

    name: str
    ok: bool
    output: JSON
    duration_ms: float | None
    error: NotRequired[str]
    rejected: NotRequired[bool]
    comment: NotRequired[str | None]
    code: NotRequired[str]  # a failure's ToolError code
    replayed: NotRequired[bool]  # answered from a recorded run, the tool not called


class ApprovalRequest(TypedDict, total=False):
    """What a person is asked to decide: a plan, a tool call, or a call left in doubt."""

    plan: PlanningData  # a plan (``ON_START``)
    tool: str  # a tool call, or one in doubt
    integration: str | None
    arguments: JSONObject
    reason: str
    step: int
    choices: list[str]  # in doubt: ``repeat``, ``skip``, ``fail``


class ApprovalRequiredData(TypedDict):
    """``approval.required``: the run waits for a person to decide ``request``.

    It names the approval, never its link: every key of the tenant reads the log, and
    only keys allowed to decide get the link (``GET /v1/approvals/{id}``).
    """

    approval_id: str
    kind: Literal["plan", "tool_call", "in_doubt"]
    request: ApprovalRequest
    link_expires_at: str
    expires_at: str | None
    default_action: str | None


class ApprovalResolvedData(TypedDict):
    """``approval.resolved``: a person (or the expiry) decided."""

    approval_id: str
    kind: str
    decision: str  # approve, reject, cancel; repeat, skip, fail for an in-doubt call
    edited_arguments: NotRequired[JSONObject | None]
    comment: str | None
    decided_by: str
    decided_by_key_id: NotRequired[str | None]  # the key (a console session's key) that decided
    decided_via: NotRequired[str | None]  # api, console, link; None for the system
    decided_at: str


class AuthRequiredData(TypedDict):
    """``auth.required``: a tool needs the run's user's credential for an integration."""

    integration: str
    user_id: str
    tool: str
    connect: str  # the request that gives it


class RateLimitedData(TypedDict):
    """``rate_limited``: a tool call waits for its rate limit."""

    tool: str
    key: str
    limit: str
    wait_seconds: float


class ReplayDivergenceData(TypedDict):
    """``replay.divergence``: a replay made a tool call its recorded run never made."""

    name: str
    arguments: JSONObject
    reason: str


class InterruptData(TypedDict):
    """``interrupt``: a graph stopped at ``interrupt()``; each is ``{"value", "id"}``."""

    interrupts: list[JSONObject]
    thread_id: str | None


class SourceData(TypedDict):
    """``source``: a source the agent used (with any other keys it gave)."""

    title: str
    url: str | None


class FileCreatedData(TypedDict):
    """``file.created``: a step of the run saved a file (``ctx.file``)."""

    id: str
    name: str
    media_type: str
    size: int
    sha256: str
    step: int


class ResultData(TypedDict):
    """``result``: the run's result."""

    type: Literal["document", "json"]
    content: JSON
    sources: list[JSONObject]
    files: NotRequired[list[JSONObject]]  # what its steps saved (``ctx.file``)
    continued_by: NotRequired[str]  # a graph run that paused, then another carried on


class ReconciledData(TypedDict):
    """``reconciled``: the run's workflow disagreed with the run, and what was done.

    ``found`` is ``missing`` (no workflow), ``ended`` (it stopped, the run had not) or
    ``orphaned`` (pending on a process that is gone); ``action`` is ``queued`` (the same
    workflow, queued again), ``restarted`` (a new workflow, ``workflow`` says which) or
    ``failed`` (the run was ended: it was restarted too often).
    """

    found: Literal["missing", "ended", "orphaned"]
    action: Literal["queued", "restarted", "failed"]
    workflow: str
    workflow_status: str | None  # as the engine said it (ERROR, SUCCESS, PENDING, ...)


class RepairedData(TypedDict):
    """``repaired``: a person repaired a stalled or lost run (``POST /v1/runs/{id}/repair``).

    ``action`` is ``resume`` (handed back to the queue, its holder fenced) or ``fail``;
    ``liveness`` is what the run was found to be; ``by`` the key that acted.
    """

    action: Literal["resume", "fail"]
    reason: str
    liveness: str
    previous_owner: str | None
    by: str


# What an event carries: the payload of one of the types above, or an agent's own object.
EventData: TypeAlias = (
    StatusData
    | TakeoverData
    | PlanningData
    | ReasoningData
    | MessageDeltaData
    | StepsPreparedData
    | BudgetNeed
    | StepStartedData
    | StepCompletedData
    | StepFailedData
    | ToolCallData
    | ToolResultData
    | ApprovalRequiredData
    | ApprovalResolvedData
    | AuthRequiredData
    | RateLimitedData
    | InterruptData
    | SourceData
    | FileCreatedData
    | ResultData
    | ErrorData
    | ReconciledData
    | RepairedData
    | JSONObject
)


# -- wording ---------------------------------------------------------------------------

STATUS_LABELS = {
    "queued": "Queued",
    "running": "Running",
    "paused": "Waiting for approval",
    "auth_required": "Waiting for a connection",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "canceled": "Canceled",
}
DECISIONS = {
    "approve": "approved",
    "reject": "rejected",
    "cancel": "canceled",
    "repeat": "settled (repeat the call)",
    "skip": "settled (skip the call)",
    "fail": "settled (fail the run)",
}

# An event's data as read: any mapping, its values unchecked (agents write their own types).
Data = Mapping[str, object]


def compact(value: object) -> str:
    """JSON on one line, without spaces: how a value shows inside a sentence."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def call_text(name: object, arguments: object) -> str:
    """``tool({"arg":…})``: a tool call on one line."""
    return f"{name}({compact(arguments or {})})"


def plan_steps(plan: Data) -> list[str] | None:
    """A plan's tool calls, ``1. tool({…})`` each, or ``None`` for a plan that is not steps."""
    content = plan.get("content")
    steps = content.get("steps") if isinstance(content, Mapping) else None
    if not isinstance(steps, list):
        return None
    return [
        f"{step.get('number', i)}. {call_text(step.get('tool'), step.get('arguments'))}"
        for i, step in enumerate(steps, 1)
        if isinstance(step, Mapping)
    ]


def plan_summary(plan: Data) -> str:
    """A plan on one line: its numbered tool calls, or its text."""
    steps = plan_steps(plan)
    if steps is not None:
        return "; ".join(steps) or "(no step)"
    return _text(plan.get("content"))


def approval_asks(kind: str, request: Data) -> str:
    """What an approval asks, in words: the tool call, or the plan."""
    if kind == "plan":
        plan = request.get("plan")
        return "the plan: " + (plan_summary(plan) if isinstance(plan, Mapping) else compact(plan))
    call = call_text(request.get("tool"), request.get("arguments"))
    return f"{call} (in doubt: repeat, skip or fail)" if kind == "in_doubt" else call


def _text(value: object) -> str:
    return value if isinstance(value, str) else compact(value)


def _status(d: Data) -> str:
    status = str(d.get("status"))
    waiting = as_object(d.get("waiting_on"))
    receipt = as_object(d.get("receipt"))
    if status == "paused" and waiting.get("interrupt"):
        return "Paused at an interrupt"
    if status == "paused" and waiting.get("approval_id"):
        return f"Waiting for approval ({waiting['approval_id']})"
    if status == "paused" and waiting.get("kind") == "budget":
        return "Waiting for budget: " + _budget_exceeded(as_object(waiting.get("budget")))
    if status == "paused" and waiting.get("child_run_id"):
        return f"Waiting for child run {waiting['child_run_id']}"
    if status == "auth_required" and waiting.get("integration"):
        return f"Waiting for a connection to {waiting['integration']} for {waiting.get('user_id')}"
    text = STATUS_LABELS.get(status, status)
    if status == "canceled" and receipt.get("step"):
        text += f" at step {receipt['step']}"
    if receipt.get("reason"):
        text += f": {receipt['reason']}"
    if d.get("reason"):
        text += f" ({d['reason']})"
    return text


def _takeover(d: Data) -> str:
    executor, previous = d.get("executor"), d.get("previous")
    if previous is None or previous == executor:
        return f"Resumed by {executor} (epoch {d.get('epoch')})"
    return f"Taken over by {executor} from {previous} (epoch {d.get('epoch')})"


def _planning(d: Data) -> str:
    steps = plan_steps(d)
    content = d.get("content")
    if steps is None and isinstance(content, list):
        steps = [_text(item) for item in content]
    if steps is None:
        return _text(content) if content is not None else ""
    return f"{len(steps)} step{'' if len(steps) == 1 else 's'} planned: " + "; ".join(steps)


def _step(d: Data) -> str:
    return f"Step {d.get('number')}" + (f": {d['name']}" if d.get("name") else "")


def _step_completed(d: Data) -> str:
    text = f"{_step(d)} completed"
    if d.get("reused_from"):
        text += f" (reused from {d['reused_from']})"
    if d.get("settled") == "skip":
        text += " (skipped: it was in doubt)"
    return text


def _step_failed(d: Data) -> str:
    message = as_object(d.get("error")).get("message")
    return f"{_step(d)} failed" + (f": {message}" if message else "")


def _tool_result(d: Data) -> str:
    name = d.get("name")
    if d.get("rejected"):
        return f"{name} was rejected" + (f": {d['comment']}" if d.get("comment") else "")
    if d.get("ok") is False:
        return f"{name} failed: {d.get('error') or compact(d.get('output'))}"
    if d.get("replayed"):
        return f"{name} returned {compact(d.get('output'))} (replayed from the recording)"
    took = d.get("duration_ms")
    after = f" in {float(took):.0f} ms" if isinstance(took, int | float) and took else ""
    return f"{name} returned {compact(d.get('output'))}{after}"


def _approval_required(d: Data) -> str:
    kind, request = str(d.get("kind", "")), as_object(d.get("request"))
    asked = f"({d.get('approval_id')})"
    if kind == "in_doubt":
        call = call_text(request.get("tool"), request.get("arguments"))
        return f"Waiting for a decision {asked} on the in-doubt call {call}: repeat, skip or fail"
    return f"Waiting for approval {asked} of {approval_asks(kind, request)}"


def _approval_resolved(d: Data) -> str:
    decision = str(d.get("decision"))
    text = f"{d.get('approval_id')} {DECISIONS.get(decision, decision)}"
    if d.get("decided_by"):
        text += f" by {d['decided_by']}"
    if d.get("edited_arguments") is not None:
        text += f" with arguments {compact(d['edited_arguments'])}"
    if d.get("comment"):
        text += f": {d['comment']}"
    return text


def _auth_required(d: Data) -> str:
    return f"{d.get('tool')} needs {d.get('user_id')}'s {d.get('integration')} connection"


def _rate_limited(d: Data) -> str:
    seconds = d.get("wait_seconds")
    wait = float(seconds) if isinstance(seconds, int | float) else 0.0
    return f"{d.get('tool')} is rate limited ({d.get('limit')}); waiting {wait:.2f} s"


def _replay_divergence(d: Data) -> str:
    call = call_text(d.get("name"), d.get("arguments"))
    return f"Diverged from the recorded run: {call}: {d.get('reason')}"


def _budget_exceeded(d: Data) -> str:
    return (
        f"{d.get('step')} needs about {d.get('needs')} {d.get('unit')}: the {d.get('scope')}'s "
        f"budget of {d.get('limit')} has {d.get('used')} used; raise it or approve the overrun"
    )


def _interrupt(d: Data) -> str:
    found = [i.get("value") if isinstance(i, Mapping) else i for i in as_list(d.get("interrupts"))]
    text = f"Paused at {len(found)} interrupt{'' if len(found) == 1 else 's'}"
    return text + (f": {compact(found)}" if found else "")


def _source(d: Data) -> str:
    return " ".join(str(part) for part in (d.get("title"), d.get("url")) if part)


def _error(d: Data) -> str:
    message = _text(d.get("message", ""))
    return f"{message} ({d['code']})" if d.get("code") else message


def _result(d: Data) -> str:
    content = d.get("content")
    if d.get("type") == "document":
        sources = len(as_list(d.get("sources")))
        text = f"A document of {len(str(content or ''))} characters"
        text += f" citing {sources} source{'' if sources == 1 else 's'}" if sources else ""
    else:
        text = compact(content)
    return f"Continued by {d['continued_by']}: {text}" if d.get("continued_by") else text


_FOUND = {
    "missing": "had no workflow",
    "ended": "had a workflow that ended",
    "orphaned": "had a workflow left on a process that is gone",
}


def _reconciled(d: Data) -> str:
    found = _FOUND.get(str(d.get("found")), str(d.get("found")))
    status = f" ({d['workflow_status']})" if d.get("workflow_status") else ""
    workflow, action = d.get("workflow"), d.get("action")
    if action == "queued":
        done = f"queued {workflow} again"
    elif action == "restarted":
        done = f"started it again as {workflow}"
    else:
        done = "the run failed: it was started again too often"
    return f"The run {found}{status}; {done}"


def _repaired(d: Data) -> str:
    done = "handed it back to the queue" if d.get("action") == "resume" else "failed it"
    return f"{d.get('by')} found the run {d.get('liveness')} and {done}: {d.get('reason')}"


def _prepared(d: Data) -> str:
    effort = f", {d['reasoning_effort']} effort" if d.get("reasoning_effort") else ""
    text = f"{d.get('step')}: {d.get('model')}{effort}"
    default = d.get("default")
    if d.get("overridden") and isinstance(default, Mapping):
        text += f" (override of {default.get('model')}, {default.get('reasoning_effort')} effort)"
    tools = as_list(d.get("tools"))
    return text + (f"; tools {', '.join(map(str, tools))}" if tools else "")


def _other(d: Data) -> str:
    for key in ("text", "message", "content"):
        if isinstance(d.get(key), str):
            return str(d[key])
    return compact(dict(d)) if d else ""


# -- the table -------------------------------------------------------------------------


@dataclass(frozen=True)
class EventKind:
    """One event type: the shape of its ``data``, its label, and how it reads."""

    payload: type[Mapping[str, object]]
    label: str
    describe: Callable[[Data], str]


EVENTS: dict[str, EventKind] = {
    "status": EventKind(StatusData, "Status", _status),
    "takeover": EventKind(TakeoverData, "Takeover", _takeover),
    "planning": EventKind(PlanningData, "Plan", _planning),
    "reasoning": EventKind(ReasoningData, "Reasoning", lambda d: _text(d.get("text", ""))),
    "message.delta": EventKind(MessageDeltaData, "Model", lambda d: _text(d.get("text", ""))),
    "budget.exceeded": EventKind(BudgetNeed, "Budget", _budget_exceeded),
    "steps.prepared": EventKind(StepsPreparedData, "Step prepared", _prepared),
    "step.started": EventKind(StepStartedData, "Step started", lambda d: f"{_step(d)} started"),
    "step.completed": EventKind(StepCompletedData, "Step completed", _step_completed),
    "step.failed": EventKind(StepFailedData, "Step failed", _step_failed),
    "tool_call": EventKind(
        ToolCallData, "Tool call", lambda d: call_text(d.get("name"), d.get("arguments"))
    ),
    "tool_result": EventKind(ToolResultData, "Tool result", _tool_result),
    "approval.required": EventKind(ApprovalRequiredData, "Approval required", _approval_required),
    "approval.resolved": EventKind(ApprovalResolvedData, "Approval decided", _approval_resolved),
    "auth.required": EventKind(AuthRequiredData, "Connection required", _auth_required),
    "rate_limited": EventKind(RateLimitedData, "Rate limited", _rate_limited),
    "replay.divergence": EventKind(ReplayDivergenceData, "Replay divergence", _replay_divergence),
    "interrupt": EventKind(InterruptData, "Interrupt", _interrupt),
    "source": EventKind(SourceData, "Source", _source),
    "file.created": EventKind(
        FileCreatedData,
        "File",
        lambda d: f"Saved {d.get('name')} ({d.get('size')} bytes) in step {d.get('step')}",
    ),
    "result": EventKind(ResultData, "Result", _result),
    "error": EventKind(ErrorData, "Error", _error),
    "reconciled": EventKind(ReconciledData, "Reconciled", _reconciled),
    "repaired": EventKind(RepairedData, "Repaired", _repaired),
}
EVENT_TYPES = frozenset(EVENTS)


def describe_event(type_: str, data: Data | None, limit: int | None = None) -> str:
    """What an event says, for people, on one line (cut to ``limit`` characters with …)."""
    kind = EVENTS.get(type_)
    text = (kind.describe if kind else _other)(data or {})
    line = " ".join(text.split())
    if limit is not None and len(line) > limit:
        return line[: limit - 1] + "…"
    return line


def event_label(type_: str) -> str:
    """The name of an event type on a timeline: ``Step started``; an agent's own type as is."""
    kind = EVENTS.get(type_)
    return kind.label if kind else type_


# -- the hash chain --------------------------------------------------------------------

GENESIS = "0" * 64


def event_hash(prev_hash: str, run_id: str, seq: int, type_: str, at: str, data: object) -> str:
    """Hash one event together with the hash of the event before it."""
    body = json.dumps(
        [prev_hash, run_id, seq, type_, at, data],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of checking a run's event log."""

    ok: bool
    events: int
    first_bad_seq: int | None
    # A deleted run is answered from its tombstone: the head its log ended on.
    deleted: bool = False
    last_hash: str | None = None


class ChainLink(TypedDict):
    """One event as its hash covers it: its time as hashed (``iso(at)``), its data."""

    seq: int
    type: str
    at: str
    data: JSONObject
    hash: str
    prev_hash: str


def verify_chain(
    run_id: str, events: Iterable[ChainLink], head: tuple[int, str] | None = None
) -> ChainCheck:
    """Check seq continuity and every hash of a run's events, given in seq order.

    ``head`` is where the run says its log ends (its ``last_seq`` and ``last_hash``):
    against it, a cut or rewritten tail is found too.
    """
    prev, count = GENESIS, 0
    for expected_seq, ev in enumerate(events, start=1):
        count += 1
        seq = ev["seq"]
        good = (
            seq == expected_seq
            and ev["prev_hash"] == prev
            and ev["hash"] == event_hash(prev, run_id, seq, ev["type"], ev["at"], ev["data"])
        )
        if not good:
            return ChainCheck(False, count, seq if seq == expected_seq else expected_seq)
        prev = ev["hash"]
    if head is not None and (count, prev) != head:
        # Cut short: the first missing event; too long: the first extra; else the last.
        last_seq = head[0]
        first_bad = count + 1 if count < last_seq else last_seq + 1 if count > last_seq else count
        return ChainCheck(False, count, first_bad)
    return ChainCheck(True, count, None)
