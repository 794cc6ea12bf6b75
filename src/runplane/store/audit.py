"""The activity log: one row per change, newest first when read, filtered and keyset-paged."""

from dataclasses import dataclass
from datetime import datetime
from typing import cast

import sqlalchemy as sa

from runplane.domain.models import AuditEventRecord
from runplane.store.db import Conn, direct
from runplane.store.runs import newest_first
from runplane.store.schema import audit_events

t = audit_events.c


@dataclass(frozen=True)
class ActivityFilter:
    """Which rows of a tenant's activity to read; ``action`` ending in ``.`` is a prefix."""

    actor: str | None = None
    actor_type: str | None = None
    resource: str | None = None
    resource_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


# Parameters, not .values(): one statement, compiled once (every new run records one).
_INSERT = direct(audit_events.insert())


async def insert_event(conn: Conn, row: AuditEventRecord) -> None:
    """Record one change (in the caller's transaction, with the change itself)."""
    await conn.execute(_INSERT, dict(row))


def _conditions(tenant_id: str, f: ActivityFilter) -> list[sa.ColumnElement[bool]]:
    where = [t.tenant_id == tenant_id]
    if f.actor is not None:
        where.append(t.actor_key_id == f.actor)
    if f.actor_type is not None:
        where.append(t.actor_type == f.actor_type)
    if f.resource is not None:
        where.append(t.target_type == f.resource)
    if f.resource_id is not None:
        where.append(t.target_id == f.resource_id)
    if f.action is not None and f.action.endswith("."):
        where.append(t.action.startswith(f.action, autoescape=True))
    elif f.action is not None:
        where.append(t.action == f.action)
    if f.since is not None:
        where.append(t.at >= f.since)
    if f.until is not None:
        where.append(t.at <= f.until)
    return where


async def list_events(
    conn: Conn,
    tenant_id: str,
    *,
    limit: int,
    after: tuple[datetime, str] | None,
    only: ActivityFilter | None = None,
) -> list[AuditEventRecord]:
    """The tenant's events newest first, keyset-paged; ``limit + 1`` rows tell if there is more."""
    stmt = sa.select(audit_events).where(*_conditions(tenant_id, only or ActivityFilter()))
    stmt = newest_first(stmt, t.at, t.id, after, limit)
    rows = (await conn.execute(stmt)).mappings().all()
    return [cast(AuditEventRecord, dict(r)) for r in rows]
