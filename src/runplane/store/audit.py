"""The audit log: one row per administrative change, newest first when read."""

from datetime import datetime
from typing import cast

import sqlalchemy as sa

from runplane.domain.models import AuditEventRecord
from runplane.store.db import Conn
from runplane.store.runs import newest_first
from runplane.store.schema import audit_events


async def insert_event(conn: Conn, row: AuditEventRecord) -> None:
    """Record one change (in the caller's transaction, with the change itself)."""
    await conn.execute(audit_events.insert().values(**row))


async def list_events(
    conn: Conn, tenant_id: str, *, limit: int, after: tuple[datetime, str] | None
) -> list[AuditEventRecord]:
    """The tenant's events newest first, keyset-paged; ``limit + 1`` rows tell if there is more."""
    stmt = sa.select(audit_events).where(audit_events.c.tenant_id == tenant_id)
    stmt = newest_first(stmt, audit_events.c.at, audit_events.c.id, after, limit)
    rows = (await conn.execute(stmt)).mappings().all()
    return [cast(AuditEventRecord, dict(r)) for r in rows]
