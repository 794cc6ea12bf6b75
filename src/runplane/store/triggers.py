"""Triggers: schedules and webhooks that start runs; every tenant query names the tenant."""

from datetime import datetime
from typing import cast

import sqlalchemy as sa

from runplane.domain.models import TriggerRecord
from runplane.store.db import Conn
from runplane.store.schema import triggers as table


def _record(row: sa.RowMapping) -> TriggerRecord:
    return cast(TriggerRecord, dict(row))


async def insert(conn: Conn, row: TriggerRecord) -> None:
    """Record a trigger."""
    await conn.execute(table.insert().values(**row))


async def get(conn: Conn, tenant_id: str, trigger_id: str) -> TriggerRecord | None:
    """One trigger of the tenant, if any."""
    q = sa.select(table).where(table.c.tenant_id == tenant_id, table.c.id == trigger_id)
    row = (await conn.execute(q)).mappings().first()
    return None if row is None else _record(row)


async def get_for_hook(conn: Conn, trigger_id: str) -> TriggerRecord | None:
    """The trigger a webhook URL names, of whichever tenant: the request carries no key,
    its signature under the trigger's own secret is what authenticates it."""
    q = sa.select(table).where(table.c.id == trigger_id)
    row = (await conn.execute(q)).mappings().first()
    return None if row is None else _record(row)


async def list_for_tenant(
    conn: Conn,
    tenant_id: str,
    *,
    kind: str | None = None,
    agent_id: str | None = None,
    enabled: bool | None = None,
    limit: int = 100,
    after: tuple[datetime, str] | None = None,
) -> list[TriggerRecord]:
    """A page of the tenant's triggers, oldest first (``limit + 1`` rows: one more tells
    there is a next page); keyset on (created_at, id)."""
    q = sa.select(table).where(table.c.tenant_id == tenant_id)
    if kind is not None:
        q = q.where(table.c.kind == kind)
    if agent_id is not None:
        q = q.where(table.c.agent_id == agent_id)
    if enabled is not None:
        q = q.where(table.c.enabled == enabled)
    if after is not None:
        created, tid = after
        q = q.where(
            sa.or_(
                table.c.created_at > created,
                sa.and_(table.c.created_at == created, table.c.id > tid),
            )
        )
    q = q.order_by(table.c.created_at, table.c.id).limit(limit + 1)
    return [_record(r) for r in (await conn.execute(q)).mappings().all()]


async def update(conn: Conn, tenant_id: str, trigger_id: str, **values: object) -> bool:
    """Change a trigger; False if the tenant has none by that id."""
    res = await conn.execute(
        table.update()
        .where(table.c.tenant_id == tenant_id, table.c.id == trigger_id)
        .values(**values)
    )
    return bool(res.rowcount)


async def delete(conn: Conn, tenant_id: str, trigger_id: str) -> bool:
    """Remove a trigger; False if the tenant has none by that id."""
    res = await conn.execute(
        table.delete().where(table.c.tenant_id == tenant_id, table.c.id == trigger_id)
    )
    return bool(res.rowcount)


async def due(conn: Conn, now: datetime, limit: int = 100) -> list[TriggerRecord]:
    """Enabled, unpaused schedules whose next tick is due, of every tenant (the scheduler)."""
    q = (
        sa.select(table)
        .where(
            table.c.enabled.is_(True),
            table.c.paused.is_(False),
            table.c.next_fire_at.is_not(None),
            table.c.next_fire_at <= now,
        )
        .order_by(table.c.next_fire_at)
        .limit(limit)
    )
    return [_record(r) for r in (await conn.execute(q)).mappings().all()]


async def earliest_due(conn: Conn) -> datetime | None:
    """The soonest tick of any enabled, unpaused schedule (the scheduler sleeps until it)."""
    q = sa.select(sa.func.min(table.c.next_fire_at)).where(
        table.c.enabled.is_(True), table.c.paused.is_(False)
    )
    return cast(datetime | None, (await conn.execute(q)).scalar())


async def advance(
    conn: Conn,
    trigger_id: str,
    due_at: datetime,
    next_fire_at: datetime | None,
    fired_at: datetime | None,
    run_id: str | None,
) -> bool:
    """Move a schedule past its tick ``due_at`` (compare-and-set: only one process moves a
    given tick); record the run it started, if any."""
    values: dict[str, object] = {"next_fire_at": next_fire_at}
    if run_id is not None:
        values.update(last_fired_at=fired_at, last_run_id=run_id)
    res = await conn.execute(
        table.update()
        .where(table.c.id == trigger_id, table.c.next_fire_at == due_at)
        .values(**values)
    )
    return res.rowcount == 1


async def uploads_for_site(conn: Conn, tenant_id: str, site_id: str) -> list[TriggerRecord]:
    """The tenant's enabled upload triggers that watch a site, oldest first."""
    q = (
        sa.select(table)
        .where(
            table.c.tenant_id == tenant_id,
            table.c.kind == "upload",
            table.c.enabled.is_(True),
        )
        .order_by(table.c.created_at, table.c.id)
    )
    rows = [_record(r) for r in (await conn.execute(q)).mappings().all()]
    # The site is in the JSON ``options``: filtered here, the same on both databases
    # (a tenant has few upload triggers).
    return [r for r in rows if (r["options"] or {}).get("site_id") == site_id]
