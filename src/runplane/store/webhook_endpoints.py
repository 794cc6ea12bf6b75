"""Tenants' lifecycle webhook endpoints, secrets stored sealed; every query names the tenant."""

from typing import cast

import sqlalchemy as sa

from runplane.domain.models import WebhookEndpointRecord
from runplane.store.db import Conn
from runplane.store.schema import webhook_endpoints as table


def _record(row: sa.RowMapping) -> WebhookEndpointRecord:
    return cast(WebhookEndpointRecord, dict(row))


async def insert(conn: Conn, row: WebhookEndpointRecord) -> None:
    """Record a new endpoint."""
    await conn.execute(table.insert().values(**row))


async def get(conn: Conn, tenant_id: str, endpoint_id: str) -> WebhookEndpointRecord | None:
    """One endpoint of the tenant, if any."""
    q = sa.select(table).where(table.c.tenant_id == tenant_id, table.c.id == endpoint_id)
    row = (await conn.execute(q)).mappings().first()
    return None if row is None else _record(row)


async def list_for_tenant(
    conn: Conn, tenant_id: str, enabled: bool | None = None
) -> list[WebhookEndpointRecord]:
    """The tenant's endpoints, oldest first; ``enabled`` filters."""
    q = sa.select(table).where(table.c.tenant_id == tenant_id)
    if enabled is not None:
        q = q.where(table.c.enabled == enabled)
    q = q.order_by(table.c.created_at, table.c.id)
    return [_record(r) for r in (await conn.execute(q)).mappings().all()]


async def update(conn: Conn, tenant_id: str, endpoint_id: str, **values: object) -> bool:
    """Change an endpoint; False if the tenant has none by that id."""
    res = await conn.execute(
        table.update()
        .where(table.c.tenant_id == tenant_id, table.c.id == endpoint_id)
        .values(**values)
    )
    return bool(res.rowcount)


async def delete(conn: Conn, tenant_id: str, endpoint_id: str) -> bool:
    """Remove an endpoint; False if the tenant has none by that id."""
    res = await conn.execute(
        table.delete().where(table.c.tenant_id == tenant_id, table.c.id == endpoint_id)
    )
    return bool(res.rowcount)
