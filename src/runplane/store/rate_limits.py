"""Token buckets shared by every process through the database."""

from datetime import datetime

import sqlalchemy as sa

from runplane.domain.policy import RateLimit, take_token
from runplane.store.db import Conn
from runplane.store.schema import rate_buckets


async def take(conn: Conn, tenant_id: str, key: str, limit: RateLimit, now: datetime) -> float:
    """Draw one token; return 0 if granted, else the seconds to wait (inside a write)."""
    where = (rate_buckets.c.tenant_id == tenant_id, rate_buckets.c.key == key)
    q = sa.select(rate_buckets.c.tokens, rate_buckets.c.updated_at).where(*where)
    # FOR UPDATE serialises draws on Postgres; SQLite's writer lock already does.
    row = (await conn.execute(q.with_for_update())).first()
    if row is None:
        granted, left, wait = take_token(limit, None, 0.0)
        stmt = rate_buckets.insert().values(
            tenant_id=tenant_id, key=key, tokens=left, updated_at=now
        )
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert

            stmt = (
                insert(rate_buckets)
                .values(tenant_id=tenant_id, key=key, tokens=left, updated_at=now)
                .on_conflict_do_nothing()
            )
            res = await conn.execute(stmt)
            if res.rowcount == 0:  # another process created it first: draw from that
                return await take(conn, tenant_id, key, limit, now)
            return wait
        await conn.execute(stmt)
        return wait
    elapsed = max(0.0, (now - row.updated_at).total_seconds())
    granted, left, wait = take_token(limit, row.tokens, elapsed)
    if granted:
        await conn.execute(rate_buckets.update().where(*where).values(tokens=left, updated_at=now))
    return wait
