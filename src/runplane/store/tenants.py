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


async def get_key(conn: Conn, tenant_id: str, key_id: str) -> ApiKeyRecord | None:
    """One key of the tenant (live or revoked), if any."""
    stmt = sa.select(api_keys).where(api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id)
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else cast(ApiKeyRecord, dict(row))


async def list_keys(conn: Conn, tenant_id: str) -> list[ApiKeyRecord]:
    """The tenant's keys, live and revoked, newest first."""
    stmt = (
        sa.select(api_keys)
        .where(api_keys.c.tenant_id == tenant_id)
        .order_by(api_keys.c.created_at.desc(), api_keys.c.id.desc())
    )
    return [cast(ApiKeyRecord, dict(r)) for r in (await conn.execute(stmt)).mappings().all()]


async def count_live_admin_keys(conn: Conn, tenant_id: str) -> int:
    """How many of the tenant's keys are admin keys not revoked."""
    stmt = sa.select(sa.func.count()).where(
        api_keys.c.tenant_id == tenant_id,
        api_keys.c.role == "admin",
        api_keys.c.revoked_at.is_(None),
    )
    return int((await conn.execute(stmt)).scalar_one())


async def revoke_key(conn: Conn, key_id: str, at: datetime) -> bool:
    """Mark a live key revoked; tell whether it was live."""
    stmt = (
        api_keys.update()
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return bool((await conn.execute(stmt)).rowcount)


async def list_tenant_ids(conn: Conn) -> list[str]:
    """Every tenant's id."""
    return list((await conn.execute(sa.select(tenants.c.id))).scalars().all())
