"""The catalog's integrations each tenant installed; every query names the tenant."""

from typing import cast

import sqlalchemy as sa

from runplane.domain.models import CustomerIntegrationRecord
from runplane.store.db import Conn
from runplane.store.schema import customer_integrations as table


def _record(row: sa.RowMapping) -> CustomerIntegrationRecord:
    return cast(CustomerIntegrationRecord, dict(row))


async def insert(conn: Conn, row: CustomerIntegrationRecord) -> None:
    """Record an installed integration."""
    await conn.execute(table.insert().values(**row))


async def get(conn: Conn, tenant_id: str, integration_id: str) -> CustomerIntegrationRecord | None:
    """One installed integration of the tenant, if any."""
    q = sa.select(table).where(table.c.tenant_id == tenant_id, table.c.id == integration_id)
    row = (await conn.execute(q)).mappings().first()
    return None if row is None else _record(row)


async def list_for_tenant(
    conn: Conn, tenant_id: str, active: bool | None = None
) -> list[CustomerIntegrationRecord]:
    """The tenant's installed integrations, oldest first; ``active`` filters."""
    q = sa.select(table).where(table.c.tenant_id == tenant_id)
    if active is not None:
        q = q.where(table.c.active == active)
    q = q.order_by(table.c.created_at, table.c.id)
    return [_record(r) for r in (await conn.execute(q)).mappings().all()]


async def update(conn: Conn, tenant_id: str, integration_id: str, **values: object) -> bool:
    """Change an installed integration; False if the tenant has none by that id."""
    res = await conn.execute(
        table.update()
        .where(table.c.tenant_id == tenant_id, table.c.id == integration_id)
        .values(**values)
    )
    return bool(res.rowcount)


async def delete(conn: Conn, tenant_id: str, integration_id: str) -> bool:
    """Remove an installed integration; False if the tenant has none by that id."""
    res = await conn.execute(
        table.delete().where(table.c.tenant_id == tenant_id, table.c.id == integration_id)
    )
    return bool(res.rowcount)
