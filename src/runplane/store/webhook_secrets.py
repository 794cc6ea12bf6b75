"""Tenants' webhook signing secrets, stored sealed."""

from typing import cast

import sqlalchemy as sa

from runplane.domain.models import WebhookSecretRecord
from runplane.store.db import Conn
from runplane.store.schema import webhook_secrets


async def get(conn: Conn, tenant_id: str) -> WebhookSecretRecord | None:
    """The tenant's secret row, if it has one."""
    q = sa.select(webhook_secrets).where(webhook_secrets.c.tenant_id == tenant_id)
    row = (await conn.execute(q)).mappings().first()
    return None if row is None else cast(WebhookSecretRecord, dict(row))


async def insert(conn: Conn, row: WebhookSecretRecord) -> None:
    """Store a tenant's first secret (fails if another process stored one first)."""
    await conn.execute(webhook_secrets.insert().values(**row))


async def replace(conn: Conn, row: WebhookSecretRecord) -> None:
    """Put a rotated secret (and the one it replaces) in place."""
    values = {k: v for k, v in row.items() if k != "tenant_id"}
    stmt = webhook_secrets.update().where(webhook_secrets.c.tenant_id == row["tenant_id"])
    await conn.execute(stmt.values(**values))
