"""The small per-tenant document store that tools may keep data in."""

from datetime import datetime
from typing import cast

import sqlalchemy as sa

from runplane.domain.json import JSONObject
from runplane.domain.models import ToolDocument
from runplane.store.db import Conn
from runplane.store.schema import tool_records


async def add(
    conn: Conn, record_id: str, tenant_id: str, collection: str, data: JSONObject, at: datetime
) -> None:
    """Store one document."""
    await conn.execute(
        tool_records.insert().values(
            id=record_id, tenant_id=tenant_id, collection=collection, data=data, created_at=at
        )
    )


async def list_collection(conn: Conn, tenant_id: str, collection: str) -> list[ToolDocument]:
    """A collection's documents, oldest first."""
    q = (
        sa.select(tool_records)
        .where(tool_records.c.tenant_id == tenant_id, tool_records.c.collection == collection)
        .order_by(tool_records.c.created_at, tool_records.c.id)
    )
    return [cast(ToolDocument, dict(r)) for r in (await conn.execute(q)).mappings().all()]
