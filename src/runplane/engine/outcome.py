"""How an attempt of a run ends besides returning: a wait (``Suspend``) or an error."""

from typing import Literal, TypedDict

from runplane.domain.errors import RunError
from runplane.domain.events import ApprovalRequest, ErrorData, EventData, WaitingOn
from runplane.domain.lifecycle import RunStatus


class ApprovalAsk(TypedDict):
    """The approval a wait asks for: its key in the run, its kind and what it asks."""

    key: str  # ``plan``, ``tool:N`` or ``doubt:N``
    kind: Literal["plan", "tool_call", "in_doubt"]
    request: ApprovalRequest


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
        approval: ApprovalAsk | None = None,
        event: tuple[str, EventData] | None = None,
        waiting_on: WaitingOn | None = None,
    ) -> None:
        super().__init__(str(status))
        self.status = status
        self.op = op
        self.approval = approval
        self.event = event
        self.waiting_on: WaitingOn = waiting_on or {}


class WriteFailed(BaseException):  # noqa: N818 - a signal, not an error of the agent
    """The journal could not write the run (the database stayed out past every retry).

    A ``BaseException``, so that agent code catching ``Exception`` cannot swallow it and
    carry on without a log: the attempt stops, and the run is tried again from what it
    recorded (``Worker.execute``, then the reconciler).
    """

    def __init__(self, cause: Exception) -> None:
        super().__init__(f"writing the run failed: {cause}")
        self.cause = cause


def error_info(exc: BaseException, step: int | None) -> ErrorData:
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


def failed_step(exc: BaseException) -> int | None:
    """The step an agent's exception came out of, when a step recorded it."""
    step = getattr(exc, "runplane_step", None)
    return step if isinstance(step, int) else None
