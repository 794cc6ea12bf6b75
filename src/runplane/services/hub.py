"""In-process wake-ups: a writer says a run changed, its waiters look again.

Waiters always re-read the database after waking, so a missed or extra wake-up costs
at most one poll interval (other processes' writes are seen by polling).
"""

import asyncio
import contextlib


class EventHub:
    """Per-run signals that new events were committed."""

    def __init__(self) -> None:
        self._signals: dict[str, asyncio.Event] = {}
        self._waiters: dict[str, int] = {}

    def signal(self, run_id: str) -> asyncio.Event:
        """The event to wait on for the next change; take it before reading."""
        ev = self._signals.get(run_id)
        if ev is None:
            ev = self._signals[run_id] = asyncio.Event()
        return ev

    def notify(self, run_id: str) -> None:
        """Wake everyone waiting on this run."""
        ev = self._signals.pop(run_id, None)
        if ev is not None:
            ev.set()

    async def wait(self, signal: asyncio.Event, timeout: float) -> None:
        """Wait for a signal taken with ``signal()``, at most ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(signal.wait(), timeout)
