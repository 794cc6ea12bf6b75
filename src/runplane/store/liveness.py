"""What a running run's liveness is read from: its last event and its owner's heartbeat."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa

from runplane.domain.liveness import Liveness
from runplane.store.db import Conn
from runplane.store.dialect import HasDialect, seconds_since
from runplane.store.schema import events, executors, runs


class Progress(NamedTuple):
    """A running run's last event time, the executor holding it, and that one's last beat."""

    run_id: str
    last_event_at: datetime | None
    owner: str | None
    heartbeat_at: datetime | None


# One statement for a whole page: the last event by its primary key (run_id, seq = the
# run's last_seq), the owner's heartbeat row if it still has one.
_PROGRESS = (
    sa.select(runs.c.id, events.c.at, runs.c.owner, executors.c.heartbeat_at)
    .select_from(
        runs.outerjoin(
            events, sa.and_(events.c.run_id == runs.c.id, events.c.seq == runs.c.last_seq)
        ).outerjoin(executors, executors.c.id == runs.c.owner)
    )
    .where(
        runs.c.tenant_id == sa.bindparam("tenant_id"),
        runs.c.id.in_(sa.bindparam("run_ids", expanding=True)),
        runs.c.status == "running",
    )
)


async def progress_of(conn: Conn, tenant_id: str, run_ids: Sequence[str]) -> dict[str, Progress]:
    """The progress of the tenant's running runs among ``run_ids``, by run id, in one query."""
    if not run_ids:
        return {}
    rows = await conn.execute(_PROGRESS, {"tenant_id": tenant_id, "run_ids": list(run_ids)})
    return {r[0]: Progress(*r) for r in rows.all()}


class LivenessFilter(NamedTuple):
    """The running runs with ``state`` at ``now``, under the server's limits (in seconds)."""

    state: Liveness
    now: datetime
    dead_after: float
    stalled_after: float


def has_liveness(conn: HasDialect, wanted: LivenessFilter) -> sa.ColumnElement[bool]:
    """SQL, on ``runs``, for a running run whose liveness is ``wanted.state``.

    The same decision as ``domain/liveness.py``: lost if its owner has no heartbeat row
    or one older than ``dead_after``; else stalled if its last event is older than
    ``stalled_after`` or its own ``timeout_seconds``; else working.
    """
    now = wanted.now
    beats = sa.exists().where(
        executors.c.id == runs.c.owner,
        executors.c.heartbeat_at >= now - timedelta(seconds=wanted.dead_after),
    )
    lost = sa.and_(runs.c.owner.is_not(None), ~beats)
    quiet = seconds_since(conn, now, events.c.at)
    stalled = sa.exists().where(
        events.c.run_id == runs.c.id,
        events.c.seq == runs.c.last_seq,
        sa.or_(
            quiet > wanted.stalled_after,
            sa.and_(runs.c.timeout_seconds > 0, quiet > runs.c.timeout_seconds),
        ),
    )
    running = runs.c.status == "running"
    if wanted.state == "lost":
        return sa.and_(running, lost)
    if wanted.state == "stalled":
        return sa.and_(running, ~lost, stalled)
    return sa.and_(running, ~lost, ~stalled)
