"""Stream parts relayed between processes: the worker appends, API nodes read after an id."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa

from runplane.domain.json import JSON
from runplane.store.db import Conn
from runplane.store.schema import stream_parts

# The event of a row that marks where a listener joined (it is never sent).
JOIN = ""


class StoredPart(NamedTuple):
    """One relayed part: its place in the log, its number in the run's stream, its event."""

    id: int
    number: int
    event: str
    data: JSON


_AFTER = (
    sa.select(stream_parts.c.id, stream_parts.c.number, stream_parts.c.event, stream_parts.c.data)
    .where(
        stream_parts.c.run_id == sa.bindparam("run_id"),
        stream_parts.c.id > sa.bindparam("after"),
    )
    .order_by(stream_parts.c.id)
    .limit(sa.bindparam("limit"))
)


async def append(conn: Conn, rows: Sequence[Mapping[str, object]]) -> None:
    """Add parts (``run_id``, ``number``, ``event``, ``data``, ``at``), in this order."""
    await conn.execute(stream_parts.insert(), list(rows))


async def mark_join(conn: Conn, run_id: str, at: datetime) -> int:
    """Record that a listener joins the run's stream now; the id its stream starts after."""
    row = {"run_id": run_id, "number": 0, "event": JOIN, "data": None, "at": at}
    result = await conn.execute(stream_parts.insert().returning(stream_parts.c.id), row)
    return int(result.scalar_one())


async def after(conn: Conn, run_id: str, after_id: int, limit: int = 500) -> list[StoredPart]:
    """The run's parts (join marks included) after ``after_id``, oldest first."""
    result = await conn.execute(_AFTER, {"run_id": run_id, "after": after_id, "limit": limit})
    return [StoredPart(int(r.id), int(r.number), str(r.event), r.data) for r in result]


async def joined(conn: Conn, run_ids: Sequence[str]) -> list[str]:
    """Which of these runs a listener in another process joined."""
    stmt = (
        sa.select(stream_parts.c.run_id)
        .where(stream_parts.c.run_id.in_(run_ids), stream_parts.c.event == JOIN)
        .distinct()
    )
    return list((await conn.execute(stmt)).scalars().all())


async def prune(conn: Conn, before: datetime) -> int:
    """Forget parts written before ``before``; how many."""
    result = await conn.execute(stream_parts.delete().where(stream_parts.c.at < before))
    return int(result.rowcount)
