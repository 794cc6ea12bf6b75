"""The executors table: which processes are alive, by heartbeat."""

from datetime import datetime

import sqlalchemy as sa

from runplane.store.db import Conn
from runplane.store.dialect import upsert
from runplane.store.schema import executors


async def heartbeat(conn: Conn, executor_id: str, worker: bool, at: datetime) -> None:
    """Say that this process is alive."""
    row = {"id": executor_id, "worker": worker, "started_at": at, "heartbeat_at": at}
    stmt = upsert(conn, executors, [row], ["id"])
    await conn.execute(stmt, row)


async def dead_executors(conn: Conn, before: datetime, me: str) -> list[str]:
    """Executors whose last heartbeat is older than ``before``."""
    stmt = sa.select(executors.c.id).where(executors.c.heartbeat_at < before, executors.c.id != me)
    return list((await conn.execute(stmt)).scalars().all())


async def claim_dead(conn: Conn, executor_id: str, before: datetime) -> bool:
    """Remove a dead executor's row; True for the one process that wins the takeover."""
    res = await conn.execute(
        executors.delete().where(executors.c.id == executor_id, executors.c.heartbeat_at < before)
    )
    return res.rowcount == 1


async def remove(conn: Conn, executor_id: str) -> None:
    """Forget this process on a clean shutdown."""
    await conn.execute(executors.delete().where(executors.c.id == executor_id))
