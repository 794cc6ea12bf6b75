"""Legal holds: rows that keep a run, an agent's runs, or the runs a query matches."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from runplane.domain.holds import aware
from runplane.store.db import Conn
from runplane.store.runs import newest_first
from runplane.store.schema import legal_holds, runs

HoldRow = dict[str, Any]


async def insert(conn: Conn, row: HoldRow) -> None:
    """Store a new hold, in the caller's transaction."""
    await conn.execute(legal_holds.insert().values(**row))


async def get(conn: Conn, tenant_id: str, hold_id: str) -> HoldRow | None:
    """One hold of the tenant, active or released."""
    stmt = sa.select(legal_holds).where(
        legal_holds.c.tenant_id == tenant_id, legal_holds.c.id == hold_id
    )
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else dict(row)


async def active(conn: Conn, tenant_id: str) -> list[HoldRow]:
    """The tenant's holds not released (few: they are made by hand)."""
    stmt = sa.select(legal_holds).where(
        legal_holds.c.tenant_id == tenant_id, legal_holds.c.released_at.is_(None)
    )
    return [dict(r) for r in (await conn.execute(stmt)).mappings().all()]


async def list_page(
    conn: Conn,
    tenant_id: str,
    *,
    include_released: bool,
    limit: int,
    after: tuple[datetime, str] | None,
) -> list[HoldRow]:
    """Holds newest first, keyset-paged; ``limit + 1`` rows tell if there is more."""
    stmt = sa.select(legal_holds).where(legal_holds.c.tenant_id == tenant_id)
    if not include_released:
        stmt = stmt.where(legal_holds.c.released_at.is_(None))
    stmt = newest_first(stmt, legal_holds.c.created_at, legal_holds.c.id, after, limit)
    return [dict(r) for r in (await conn.execute(stmt)).mappings().all()]


async def release(conn: Conn, tenant_id: str, hold_id: str, at: datetime, key_id: str) -> bool:
    """Release an active hold; False if it was already released (by someone else)."""
    res = await conn.execute(
        legal_holds.update()
        .where(
            legal_holds.c.tenant_id == tenant_id,
            legal_holds.c.id == hold_id,
            legal_holds.c.released_at.is_(None),
        )
        .values(released_at=at, released_by_key_id=key_id)
    )
    return bool(res.rowcount)


def run_filter(query: Mapping[str, object]) -> list[sa.ColumnElement[bool]]:
    """A hold's (or an export's) query as conditions on ``runs``."""
    conds: list[sa.ColumnElement[bool]] = []
    if query.get("agent_id") is not None:
        conds.append(runs.c.agent_id == query["agent_id"])
    if query.get("status") is not None:
        conds.append(runs.c.status == query["status"])
    for key, op in (("created_after", "ge"), ("created_before", "lt")):
        value = query.get(key)
        if isinstance(value, str):
            at = aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
            conds.append(runs.c.created_at >= at if op == "ge" else runs.c.created_at < at)
    return conds


async def count_matching(conn: Conn, tenant_id: str, query: Mapping[str, object]) -> int:
    """How many of the tenant's runs a query matches."""
    stmt = sa.select(sa.func.count()).where(runs.c.tenant_id == tenant_id, *run_filter(query))
    return int((await conn.execute(stmt)).scalar_one())
