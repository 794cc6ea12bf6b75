"""Tombstones of deleted runs and requests to delete a run awaiting a second admin."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from runplane.domain.lifecycle import TERMINAL
from runplane.store.db import Conn
from runplane.store.runs import newest_first
from runplane.store.schema import deletion_requests, run_tombstones, runs

Row = dict[str, Any]
_ENDED = [str(s) for s in TERMINAL]


async def insert(conn: Conn, row: Row) -> None:
    """Record a deleted run's tombstone, in the deletion's transaction."""
    await conn.execute(run_tombstones.insert().values(**row))


async def get(conn: Conn, tenant_id: str, run_id: str) -> Row | None:
    """The tombstone of a deleted run of the tenant, if any."""
    stmt = sa.select(run_tombstones).where(
        run_tombstones.c.tenant_id == tenant_id, run_tombstones.c.run_id == run_id
    )
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else dict(row)


async def list_page(
    conn: Conn, tenant_id: str, *, limit: int, after: tuple[datetime, str] | None
) -> list[Row]:
    """Tombstones, most recently deleted first; ``limit + 1`` rows tell if there is more."""
    stmt = sa.select(run_tombstones).where(run_tombstones.c.tenant_id == tenant_id)
    stmt = newest_first(stmt, run_tombstones.c.deleted_at, run_tombstones.c.run_id, after, limit)
    return [dict(r) for r in (await conn.execute(stmt)).mappings().all()]


async def insert_request(conn: Conn, row: Row) -> None:
    """Store a deletion request (pending)."""
    await conn.execute(deletion_requests.insert().values(**row))


async def get_request(conn: Conn, tenant_id: str, request_id: str) -> Row | None:
    """One deletion request of the tenant."""
    stmt = sa.select(deletion_requests).where(
        deletion_requests.c.tenant_id == tenant_id, deletion_requests.c.id == request_id
    )
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else dict(row)


async def pending_request_for(conn: Conn, tenant_id: str, run_id: str) -> Row | None:
    """The pending deletion request of a run, if one is waiting."""
    stmt = sa.select(deletion_requests).where(
        deletion_requests.c.tenant_id == tenant_id,
        deletion_requests.c.run_id == run_id,
        deletion_requests.c.status == "pending",
    )
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else dict(row)


async def list_requests(
    conn: Conn,
    tenant_id: str,
    *,
    status: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> list[Row]:
    """Deletion requests newest first; ``limit + 1`` rows tell if there is more."""
    stmt = sa.select(deletion_requests).where(deletion_requests.c.tenant_id == tenant_id)
    if status is not None:
        stmt = stmt.where(deletion_requests.c.status == status)
    stmt = newest_first(
        stmt, deletion_requests.c.requested_at, deletion_requests.c.id, after, limit
    )
    return [dict(r) for r in (await conn.execute(stmt)).mappings().all()]


async def decide_request(
    conn: Conn,
    tenant_id: str,
    request_id: str,
    status: str,
    at: datetime,
    key_id: str,
    comment: str | None,
) -> bool:
    """Approve or reject a pending request; False if it was decided already."""
    res = await conn.execute(
        deletion_requests.update()
        .where(
            deletion_requests.c.tenant_id == tenant_id,
            deletion_requests.c.id == request_id,
            deletion_requests.c.status == "pending",
        )
        .values(status=status, decided_at=at, decided_by_key_id=key_id, comment=comment)
    )
    return bool(res.rowcount)


async def ended_before(
    conn: Conn, tenant_id: str, cutoff: datetime, *, limit: int, after: tuple[datetime, str] | None
) -> list[Row]:
    """Ended runs created before ``cutoff``, oldest first: the sweep's candidates."""
    stmt = sa.select(runs.c.id, runs.c.agent_id, runs.c.status, runs.c.created_at).where(
        runs.c.tenant_id == tenant_id, runs.c.created_at < cutoff, runs.c.status.in_(_ENDED)
    )
    if after is not None:
        at, run_id = after
        stmt = stmt.where(
            sa.or_(runs.c.created_at > at, sa.and_(runs.c.created_at == at, runs.c.id > run_id))
        )
    stmt = stmt.order_by(runs.c.created_at, runs.c.id).limit(limit)
    return [dict(r) for r in (await conn.execute(stmt)).mappings().all()]
