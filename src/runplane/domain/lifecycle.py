"""The run state machine: the one owner of a run's status.

queued -> running -> (paused | auth_required -> running)* -> succeeded | failed | canceled

A graph run paused at an interrupt ends ``succeeded`` when a later run on its thread
carries on from that interrupt (LangGraph resumes in a new run).
"""

from enum import StrEnum

from runplane.domain.errors import Conflict


class RunStatus(StrEnum):
    """Where a run is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    AUTH_REQUIRED = "auth_required"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        """Tell whether no transition leaves this status."""
        return self in TERMINAL


TERMINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED})

_ENDINGS = {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED}

ALLOWED: dict[RunStatus, frozenset[RunStatus]] = {
    # A queued run can fail without starting (its revision vanished) or be canceled.
    RunStatus.QUEUED: frozenset({RunStatus.RUNNING, RunStatus.FAILED, RunStatus.CANCELED}),
    RunStatus.RUNNING: frozenset({RunStatus.PAUSED, RunStatus.AUTH_REQUIRED, *_ENDINGS}),
    RunStatus.PAUSED: frozenset({RunStatus.RUNNING, *_ENDINGS}),
    RunStatus.AUTH_REQUIRED: frozenset({RunStatus.RUNNING, RunStatus.FAILED, RunStatus.CANCELED}),
    RunStatus.SUCCEEDED: frozenset(),
    RunStatus.FAILED: frozenset(),
    RunStatus.CANCELED: frozenset(),
}


def can_transition(current: RunStatus, new: RunStatus) -> bool:
    """Tell whether ``current -> new`` is a legal move."""
    return new in ALLOWED[current]


def transition(current: RunStatus | str, new: RunStatus | str) -> RunStatus:
    """Return ``new`` if the move is legal, else raise ``Conflict``."""
    current, new = RunStatus(current), RunStatus(new)
    if not can_transition(current, new):
        raise Conflict(
            f"a {current} run cannot become {new}",
            [{"name": "status", "value": str(current)}],
        )
    return new
