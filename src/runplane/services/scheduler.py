"""The one scheduler: starts the due ticks of schedule triggers and of the Agent Protocol's
crons, from the process loops of every worker.

Each round starts what is due in both tables, then sleeps until the soonest tick of a
trigger (at most ``MAX_SLEEP``, so that a schedule made in another process is seen
within it). Any number of processes may run it at once: a tick starts one run (the
Idempotency-Key of ``services/triggers.py``; a cron's compare-and-set claim).
"""

import time

from runplane.domain.models import utcnow
from runplane.services import crons, triggers
from runplane.services.runtime import Runtime
from runplane.store import triggers as triggers_store

MAX_SLEEP = 1.0
MIN_SLEEP = 0.005
CRON_EVERY = 1.0  # crons tick by the minute: one look a second is plenty


class Scheduler:
    """Starts due ticks; ``dispatch`` is one round and says how long to sleep after it."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._crons_seen = 0.0

    async def dispatch(self) -> float:
        """Start every due tick of triggers (and crons, once a second); seconds to sleep."""
        await triggers.start_due(self.rt)
        if self.rt.project.graphs and time.monotonic() - self._crons_seen >= CRON_EVERY:
            self._crons_seen = time.monotonic()
            await crons.start_due(self.rt)
        async with self.rt.db.read() as conn:
            soonest = await triggers_store.earliest_due(conn)
        if soonest is None:
            return MAX_SLEEP
        wait = (soonest - utcnow()).total_seconds()
        return min(MAX_SLEEP, max(MIN_SLEEP, wait))
