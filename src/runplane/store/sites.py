"""Sites: named collections of a tenant's files; every query names the tenant."""

from typing import cast

import sqlalchemy as sa

from runplane.domain.models import SiteRecord
from runplane.store.db import Conn
from runplane.store.schema import sites as table


def _record(row: sa.RowMapping) -> SiteRecord:
    return cast(SiteRecord, dict(row))


async def insert(conn: Conn, row: SiteRecord) -> None:
    """Record a site."""
    await conn.execute(table.insert().values(**row))


async def get(conn: Conn, tenant_id: str, site_id: str) -> SiteRecord | None:
    """One site of the tenant, by id or name."""
    q = sa.select(table).where(
        table.c.tenant_id == tenant_id, sa.or_(table.c.id == site_id, table.c.name == site_id)
    )
    row = (await conn.execute(q)).mappings().first()
    return None if row is None else _record(row)


async def get_many(conn: Conn, tenant_id: str, site_ids: list[str]) -> list[SiteRecord]:
    """The tenant's sites among these ids."""
    q = sa.select(table).where(table.c.tenant_id == tenant_id, table.c.id.in_(site_ids))
    return [_record(r) for r in (await conn.execute(q)).mappings().all()]


async def list_for_tenant(conn: Conn, tenant_id: str) -> list[SiteRecord]:
    """The tenant's sites, oldest first."""
    q = (
        sa.select(table)
        .where(table.c.tenant_id == tenant_id)
        .order_by(table.c.created_at, table.c.id)
    )
    return [_record(r) for r in (await conn.execute(q)).mappings().all()]


async def delete(conn: Conn, tenant_id: str, site_id: str) -> bool:
    """Remove a site; False if the tenant has none by that id."""
    res = await conn.execute(
        table.delete().where(table.c.tenant_id == tenant_id, table.c.id == site_id)
    )
    return bool(res.rowcount)
