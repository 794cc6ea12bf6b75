"""Users' credentials for integrations, stored encrypted."""

from datetime import datetime
from typing import cast

import sqlalchemy as sa

from runplane.domain.models import ConnectionRecord
from runplane.store.db import Conn
from runplane.store.dialect import upsert
from runplane.store.schema import connections


async def put(
    conn: Conn, tenant_id: str, user_id: str, integration: str, secret: str, at: datetime
) -> None:
    """Store (or replace) a user's encrypted credential."""
    row = {
        "tenant_id": tenant_id,
        "user_id": user_id,
        "integration": integration,
        "secret": secret,
        "created_at": at,
        "updated_at": at,
    }
    stmt = upsert(conn, connections, [row], ["tenant_id", "user_id", "integration"])
    await conn.execute(stmt, row)


def as_connection(row: sa.RowMapping) -> ConnectionRecord:
    """A row of ``connections`` as the typed record."""
    return cast(ConnectionRecord, dict(row))


async def get(
    conn: Conn, tenant_id: str, user_id: str, integration: str
) -> ConnectionRecord | None:
    """A user's credential row, if any."""
    q = sa.select(connections).where(
        connections.c.tenant_id == tenant_id,
        connections.c.user_id == user_id,
        connections.c.integration == integration,
    )
    row = (await conn.execute(q)).mappings().first()
    return None if row is None else as_connection(row)


async def list_for_user(conn: Conn, tenant_id: str, user_id: str) -> list[ConnectionRecord]:
    """A user's connections (with their encrypted secrets)."""
    q = (
        sa.select(connections)
        .where(connections.c.tenant_id == tenant_id, connections.c.user_id == user_id)
        .order_by(connections.c.integration)
    )
    return [as_connection(r) for r in (await conn.execute(q)).mappings().all()]


async def delete(conn: Conn, tenant_id: str, user_id: str, integration: str) -> bool:
    """Revoke a credential; False if there was none."""
    res = await conn.execute(
        connections.delete().where(
            connections.c.tenant_id == tenant_id,
            connections.c.user_id == user_id,
            connections.c.integration == integration,
        )
    )
    return bool(res.rowcount)
