"""Tenants' model providers (their API keys sealed)."""

from typing import cast

import sqlalchemy as sa

from runplane.domain.models import ModelProviderRecord
from runplane.store.db import Conn
from runplane.store.dialect import upsert
from runplane.store.schema import model_providers


async def put(conn: Conn, row: ModelProviderRecord) -> None:
    """Store (or replace) a tenant's model provider."""
    await conn.execute(upsert(conn, model_providers, [dict(row)], ["tenant_id", "name"]), dict(row))


async def get(conn: Conn, tenant_id: str, name: str) -> ModelProviderRecord | None:
    """A tenant's model provider by name, if any."""
    q = sa.select(model_providers).where(
        model_providers.c.tenant_id == tenant_id, model_providers.c.name == name
    )
    row = (await conn.execute(q)).mappings().first()
    return None if row is None else cast(ModelProviderRecord, dict(row))


async def list_for_tenant(conn: Conn, tenant_id: str) -> list[ModelProviderRecord]:
    """A tenant's model providers, by name."""
    q = (
        sa.select(model_providers)
        .where(model_providers.c.tenant_id == tenant_id)
        .order_by(model_providers.c.name)
    )
    return [cast(ModelProviderRecord, dict(r)) for r in (await conn.execute(q)).mappings().all()]


async def delete(conn: Conn, tenant_id: str, name: str) -> bool:
    """Remove a tenant's model provider; False if there was none."""
    res = await conn.execute(
        model_providers.delete().where(
            model_providers.c.tenant_id == tenant_id, model_providers.c.name == name
        )
    )
    return bool(res.rowcount)


async def clear_default(conn: Conn, tenant_id: str, keep: str) -> None:
    """Make every provider of a tenant but ``keep`` not the default."""
    await conn.execute(
        model_providers.update()
        .where(model_providers.c.tenant_id == tenant_id, model_providers.c.name != keep)
        .values(is_default=False)
    )
