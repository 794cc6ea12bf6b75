"""Tenants' own entries of the model catalogue (over the built-in ones)."""

from typing import cast

import sqlalchemy as sa

from runplane.domain.models import TenantModelRecord
from runplane.store.db import Conn
from runplane.store.dialect import upsert
from runplane.store.schema import tenant_models


async def put(conn: Conn, row: TenantModelRecord) -> None:
    """Store (or replace) a tenant's entry."""
    await conn.execute(upsert(conn, tenant_models, [dict(row)], ["tenant_id", "name"]), dict(row))


async def get(conn: Conn, tenant_id: str, name: str) -> TenantModelRecord | None:
    """A tenant's entry for a model name, if it has one."""
    q = sa.select(tenant_models).where(
        tenant_models.c.tenant_id == tenant_id, tenant_models.c.name == name
    )
    row = (await conn.execute(q)).mappings().first()
    return None if row is None else cast(TenantModelRecord, dict(row))


async def list_for_tenant(conn: Conn, tenant_id: str) -> list[TenantModelRecord]:
    """A tenant's entries, by name."""
    q = (
        sa.select(tenant_models)
        .where(tenant_models.c.tenant_id == tenant_id)
        .order_by(tenant_models.c.name)
    )
    return [cast(TenantModelRecord, dict(r)) for r in (await conn.execute(q)).mappings().all()]


async def delete(conn: Conn, tenant_id: str, name: str) -> bool:
    """Remove a tenant's entry; False if there was none."""
    res = await conn.execute(
        tenant_models.delete().where(
            tenant_models.c.tenant_id == tenant_id, tenant_models.c.name == name
        )
    )
    return bool(res.rowcount)
