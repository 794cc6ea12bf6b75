"""A run's liveness: whether an active run is moving, stuck, or held by a process that is gone.

Only a ``running`` run has a liveness; every other run has none (``None``):

==============================  =================================================
the run                         liveness
==============================  =================================================
queued                          None: it waits for a worker, nobody holds it
paused, auth_required           None: it waits for a person (an approval, a
                                connection, a child run, a budget) and holds no
                                worker; waiting on a person is not stalling
succeeded, failed, canceled     None: it ended
running, its owner is gone      ``lost``: the executor holding its attempt has no
                                heartbeat row, or one older than the dead-after time
running, no new event for       ``stalled``: its owner beats, but the run recorded
longer than its stall limit     nothing for longer than it may
running otherwise               ``working``
==============================  =================================================

runplane has no per-step time limit, so a run's stall limit is the server's
``run_stalled_after`` capped by the run's own ``timeout_seconds`` (a run quiet for
longer than its whole time limit is stuck whatever the server's setting).
"""

from datetime import datetime
from typing import Literal

Liveness = Literal["working", "stalled", "lost"]
LIVENESS: tuple[Liveness, ...] = ("working", "stalled", "lost")
# What each liveness means, for people (the console's badges and the repair card).
LIVENESS_HINTS: dict[str, str] = {
    "working": "Its worker is alive and it recorded progress lately.",
    "stalled": "Its worker is alive, but it has recorded nothing for longer than it may.",
    "lost": "The worker that held it stopped beating: nobody is running it.",
}
# What a repair may act on: a run that is moving is left alone.
REPAIRABLE: frozenset[Liveness] = frozenset({"stalled", "lost"})


def stall_limit(stalled_after: float, timeout_seconds: float | None) -> float:
    """Seconds a running run may go without a new event before it counts as stalled."""
    if timeout_seconds is None or timeout_seconds <= 0:
        return stalled_after
    return min(stalled_after, timeout_seconds)


def owner_alive(
    owner: str | None, heartbeat_at: datetime | None, dead_after: float, now: datetime
) -> bool | None:
    """Whether the run's owner still beats; None when no attempt holds the run."""
    if owner is None:
        return None
    if heartbeat_at is None:
        return False  # its row is gone: declared dead, or it shut down
    return (now - heartbeat_at).total_seconds() <= dead_after


def liveness(
    status: str,
    alive: bool | None,
    last_progress_at: datetime | None,
    limit: float,
    now: datetime,
) -> Liveness | None:
    """Decide a run's liveness from its status, its owner, its last event and its stall limit."""
    if status != "running":
        return None
    if alive is False:
        return "lost"
    if last_progress_at is not None and (now - last_progress_at).total_seconds() > limit:
        return "stalled"
    return "working"
