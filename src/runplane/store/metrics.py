"""The operator's gauges, read across tenants for ``/metrics``: each an indexed count.

These are the server's own figures, not a tenant's data, so they name no tenant: they
group by one instead. Finished runs and deliveries are not counted here (their tables
only grow); the counters in ``engine/metrics.py`` count them as they end.
"""

from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa

from runplane.store.db import Conn
from runplane.store.schema import approvals, runs, webhook_deliveries

# The statuses a run is still active in: few rows, on ``ix_runs_status``.
ACTIVE = ("queued", "running", "paused", "auth_required")


class Gauges(NamedTuple):
    """What the database says now."""

    active: dict[tuple[str, str], int]  # (agent name, status) -> runs
    queues: dict[str, tuple[int, datetime]]  # tenant -> (queued runs, oldest created_at)
    approvals_waiting: int
    webhooks_pending: int


async def read_gauges(conn: Conn) -> Gauges:
    """Active runs by agent and status, queues per tenant, waiting approvals, the outbox."""
    q = (
        sa.select(runs.c.agent_name, runs.c.status, sa.func.count())
        .where(runs.c.status.in_(ACTIVE))
        .group_by(runs.c.agent_name, runs.c.status)
    )
    active = {(str(a), str(s)): int(n) for a, s, n in (await conn.execute(q)).all()}
    q2 = (
        sa.select(runs.c.tenant_id, sa.func.count(), sa.func.min(runs.c.created_at))
        .where(runs.c.status == "queued")
        .group_by(runs.c.tenant_id)
    )
    queues = {str(t): (int(n), oldest) for t, n, oldest in (await conn.execute(q2)).all()}
    q3 = sa.select(sa.func.count()).select_from(approvals).where(approvals.c.status == "pending")
    waiting = int((await conn.execute(q3)).scalar_one())
    q4 = (
        sa.select(sa.func.count())
        .select_from(webhook_deliveries)
        .where(webhook_deliveries.c.status == "pending")
    )
    pending = int((await conn.execute(q4)).scalar_one())
    return Gauges(active, queues, waiting, pending)
