"""What a running run's liveness is read from: its last event and its owner's heartbeat."""

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa

from runplane.store.db import Conn
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
