"""Tenants and their API keys."""

from datetime import datetime
from typing import cast

import sqlalchemy as sa

from runplane.domain.models import ApiKeyRecord, TenantRecord
from runplane.store.db import Conn
from runplane.store.schema import api_keys, tenants


async def get_tenant_by_name(conn: Conn, name: str) -> TenantRecord | None:
    """The tenant with this name, if any."""
    stmt = sa.select(tenants).where(tenants.c.name == name)
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else cast(TenantRecord, dict(row))


async def insert_tenant(conn: Conn, tenant_id: str, name: str, at: datetime) -> None:
    """Create a tenant."""
    await conn.execute(tenants.insert().values(id=tenant_id, name=name, created_at=at))


async def insert_key(conn: Conn, **row: object) -> None:
    """Store a new API key (its hash, never the key)."""
    await conn.execute(api_keys.insert().values(**row))


async def find_key(conn: Conn, key_hash: str) -> ApiKeyRecord | None:
    """The live key with this hash, if any."""
    stmt = sa.select(api_keys).where(
        api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None)
    )
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else cast(ApiKeyRecord, dict(row))


async def list_tenant_ids(conn: Conn) -> list[str]:
    """Every tenant's id."""
    return list((await conn.execute(sa.select(tenants.c.id))).scalars().all())
