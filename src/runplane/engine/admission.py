"""Admission: which runs may take a slot, so that no tenant crowds out the others.

A new run is *admitted* (handed to the engine) when its tenant has fewer than
``max_running`` runs in flight (running, or admitted and waiting for a slot) and its
scheduled start (``not_before``) has come; otherwise it is *held*: recorded ``queued``
with ``admitted_at`` unset, holding no slot and no workflow. Held runs are admitted,
oldest first, when one of the tenant's runs leaves a slot (``Worker.release``) and by
every worker's sweep (``Worker.release_due``), which also starts scheduled runs when
they are due and so survives any restart: the held run is a row, nothing more.

Admitted runs wait for a slot in the engine's queue in round-robin order across
tenants: each gets the priority ``1 + (its tenant's runs already waiting)``, so the
queue serves every tenant's first waiting run, then every tenant's second, and so on.
A tenant's 1,000th run never stands before another tenant's first.
"""

import time
from dataclasses import dataclass
from datetime import datetime

from runplane.domain.errors import TooManyRequests
from runplane.store import admission as store
from runplane.store.admission import Usage
from runplane.store.db import Database

# How long a tenant's quota overrides are trusted before they are read again.
LIMITS_TTL = 5.0
# What a client is told to wait when its tenant's queue is full: runs take seconds.
QUEUE_FULL_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class Limits:
    """A tenant's quotas: runs in flight at once, and runs not yet started."""

    max_running: int
    max_queued: int


@dataclass(frozen=True)
class Ticket:
    """The admission of a new run: when it was admitted (None: held) and its place in line."""

    admitted_at: datetime | None
    priority: int


class Admission:
    """The quota defaults, the tenants' overrides, and the decision for each new run."""

    def __init__(self, db: Database, defaults: Limits) -> None:
        self.db = db
        self.defaults = defaults
        self._limits: dict[str, tuple[float, Limits]] = {}
        # Tenants this process knows to have held runs that may start now.
        self.holding: set[str] = set()

    async def limits(self, tenant_id: str) -> Limits:
        """The tenant's quotas: its overrides, else the server's defaults."""
        hit = self._limits.get(tenant_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        async with self.db.read() as conn:
            running, queued = await store.tenant_limits(conn, tenant_id)
        limits = Limits(
            max_running=running if running is not None else self.defaults.max_running,
            max_queued=queued if queued is not None else self.defaults.max_queued,
        )
        self._limits[tenant_id] = (time.monotonic() + LIMITS_TTL, limits)
        return limits

    def forget(self, tenant_id: str) -> None:
        """Drop the cached quotas of a tenant whose overrides changed."""
        self._limits.pop(tenant_id, None)

    async def usage(self, tenant_id: str) -> Usage:
        """The tenant's runs by where they are in admission."""
        async with self.db.read() as conn:
            return await store.usage(conn, tenant_id)

    async def check_room(self, tenant_id: str, count: int) -> tuple[Usage, Limits]:
        """Raise TooManyRequests (429) unless ``count`` more runs fit in the tenant's queue."""
        usage, limits = await self.usage(tenant_id), await self.limits(tenant_id)
        if usage.queued + count > limits.max_queued:
            raise TooManyRequests(
                f"too many queued runs: this tenant may have {limits.max_queued} runs "
                f"waiting to start and has {usage.queued}; try again when some have started",
                retry_after=QUEUE_FULL_RETRY_SECONDS,
                details=[
                    {"name": "max_queued", "value": limits.max_queued},
                    {"name": "queued", "value": usage.queued},
                ],
            )
        return usage, limits

    async def ticket(
        self, tenant_id: str, now: datetime, not_before: datetime | None = None
    ) -> Ticket:
        """Admit a new run now, or hold it (quota full, or scheduled for later); 429 if full."""
        usage, limits = await self.check_room(tenant_id, 1)
        scheduled = not_before is not None and not_before > now
        if scheduled or usage.in_flight >= limits.max_running:
            if not scheduled:
                self.holding.add(tenant_id)
            return Ticket(None, 0)
        return Ticket(now, usage.waiting + 1)
