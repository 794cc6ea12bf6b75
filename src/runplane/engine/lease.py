"""The lease a process holds on its runs by beating; lapsed, the process holds its runs.

Other workers declare a process dead once its heartbeat is ``executor_dead_after`` old
and take its runs over. The process cannot know that it was cut off, only that its
beats stopped getting through: after half that time without one (``ttl``), it starts no
new step or tool call until a beat succeeds again, so a cut-off worker has stopped on
its own before anyone may take its runs (self-fencing; docs/architecture.md, Failover).
"""

import asyncio
import time


class Lease:
    """When this process last proved it is alive, and whether it may still act on its runs."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        now = time.monotonic()
        self._renewed = now
        self._steady_since = now
        self._renewal = asyncio.Event()
        # Set by a drain: runs here start no new step, as with a lapsed lease, for good.
        self.draining = False
        # How many attempts wait in ``wait_valid`` now (a drain waits for all to get there).
        self.holding = 0

    def drain(self) -> None:
        """Hold every run here before its next step from now on (graceful shutdown)."""
        self.draining = True
        waiting, self._renewal = self._renewal, asyncio.Event()
        waiting.set()

    def renew(self, began: float) -> None:
        """Record a heartbeat that began at ``began`` (``time.monotonic()``) and got through."""
        if began - self._renewed > self.ttl:
            self._steady_since = began  # a gap: the beats were not getting through
        self._renewed = max(self._renewed, began)
        waiting, self._renewal = self._renewal, asyncio.Event()
        waiting.set()

    @property
    def valid(self) -> bool:
        """Tell whether a beat got through less than ``ttl`` ago (and no drain began)."""
        return not self.draining and self.lapsed_for < self.ttl

    @property
    def lapsed_for(self) -> float:
        """Seconds since the last beat that got through began."""
        return time.monotonic() - self._renewed

    def steady_for(self) -> float:
        """Seconds the beats have been getting through without a gap (0 if they are not now).

        A process only declares others dead once this exceeds the dead-after time: after an
        outage of the database (or of this process's link to it), every live process gets
        as long to beat again as it would have had before anyone may call it dead.
        """
        if not self.valid:
            return 0.0
        return time.monotonic() - self._steady_since

    async def wait_valid(self) -> None:
        """Return once a beat has got through within ``ttl`` (never, once draining)."""
        self.holding += 1
        try:
            while not self.valid:
                await self._renewal.wait()
        finally:
            self.holding -= 1
