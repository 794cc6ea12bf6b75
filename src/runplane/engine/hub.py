"""In-process wake-ups: a writer says a run changed, its waiters look again.

A writer in this process also says the status it left the run in, so that a waiter for
the end can skip reading a run it knows is still going. A missed wake-up costs at most
one poll interval (other processes' writes wake waiters through Postgres NOTIFY, or
are seen by polling).
"""

import asyncio
import contextlib

from runplane.domain.lifecycle import TERMINAL
from runplane.domain.models import RunRecord


class Signal(asyncio.Event):
    """A wake-up for one run, with the run's status when the writer knew it.

    When that status says the run goes on, ``next`` is the signal of the change after
    this one, already in place, so that a waiter cannot miss it.
    """

    status: str | None = None
    next: "Signal | None" = None
    # The ended run as its writer left it, when the writer knew it whole.
    row: RunRecord | None = None

    @property
    def going(self) -> bool:
        """Whether the writer left the run in a status that is not final."""
        return self.is_set() and self.next is not None


class EventHub:
    """Per-run signals that new events were committed."""

    def __init__(self) -> None:
        self._signals: dict[str, Signal] = {}

    def signal(self, run_id: str) -> Signal:
        """The event to wait on for the next change; take it before reading."""
        ev = self._signals.get(run_id)
        if ev is None:
            ev = self._signals[run_id] = Signal()
        return ev

    def notify(self, run_id: str, status: str | None = None, row: RunRecord | None = None) -> None:
        """Wake everyone waiting on this run (``status``: what it is now, if known)."""
        ev = self._signals.pop(run_id, None)
        if ev is not None:
            ev.status = status
            ev.row = row
            if status is not None and status not in TERMINAL:
                ev.next = self.signal(run_id)
            ev.set()

    def notify_all(self) -> None:
        """Wake every waiter, each to look for itself (changes may have gone unannounced)."""
        for run_id in list(self._signals):
            self.notify(run_id)

    async def wait(self, signal: asyncio.Event, timeout: float) -> None:
        """Wait for a signal taken with ``signal()``, at most ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(signal.wait(), timeout)
