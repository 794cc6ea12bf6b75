"""The executors table: which processes are alive, by heartbeat."""

import socket
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from runplane.store.db import Conn
from runplane.store.dialect import clock, database_up_for
from runplane.store.schema import executors


class Silent(NamedTuple):
    """An executor that stopped beating, and when it last did."""

    id: str
    heartbeat_at: datetime


async def heartbeat(
    conn: Conn, executor_id: str, role: str, at: datetime, db_connections: int
) -> None:
    """Say that this process is alive, its role, and how many database connections it may hold."""
    now = clock(conn, at)
    row = {
        "id": executor_id,
        "worker": role != "api",
        "role": role,
        "host": socket.gethostname(),
        "db_connections": db_connections,
        "started_at": now,
        "heartbeat_at": now,
    }
    insert = (sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert)(executors)
    stmt = insert.values(row)
    # A process that was declared dead and beats again comes back with its first start.
    kept = {c: stmt.excluded[c] for c in row if c not in ("id", "started_at")}
    await conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=kept))


async def known(conn: Conn) -> set[str]:
    """Every executor with a row: alive, or dead and not yet taken over."""
    return set((await conn.execute(sa.select(executors.c.id))).scalars().all())


async def silent_executors(conn: Conn, at: datetime, seconds: float, me: str) -> list[Silent]:
    """Executors whose last heartbeat is more than ``seconds`` old (none right after a restart).

    ``at`` is this process's time, used only on SQLite (Postgres has its own clock).
    """
    stmt = sa.select(executors.c.id, executors.c.heartbeat_at).where(
        executors.c.heartbeat_at < clock(conn, at, seconds),
        executors.c.id != me,
        database_up_for(conn, seconds),
    )
    return [Silent(r.id, r.heartbeat_at) for r in (await conn.execute(stmt)).all()]


async def claim_dead(conn: Conn, executor_id: str, at: datetime, seconds: float) -> bool:
    """Remove a dead executor's row; True for the one process that wins the takeover."""
    res = await conn.execute(
        executors.delete().where(
            executors.c.id == executor_id, executors.c.heartbeat_at < clock(conn, at, seconds)
        )
    )
    return res.rowcount == 1


async def remove(conn: Conn, executor_id: str) -> None:
    """Forget this process on a clean shutdown."""
    await conn.execute(executors.delete().where(executors.c.id == executor_id))
