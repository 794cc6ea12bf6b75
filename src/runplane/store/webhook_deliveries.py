"""The webhook outbox: deliveries written with their run's move, claimed, tried, recorded.

Claiming is safe across processes: on Postgres the due rows are locked ``FOR UPDATE SKIP
LOCKED`` and leased (their ``next_attempt_at`` moved on) in one short transaction; on
SQLite the single writer serializes the claims. A delivery waits while an earlier one of
the same run to the same target is still pending: each run's events go out in order.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa

from runplane.domain.models import WebhookAttemptRecord, WebhookDeliveryRecord
from runplane.store.db import Conn
from runplane.store.schema import webhook_attempts as attempts
from runplane.store.schema import webhook_deliveries as table

_EARLIER = table.alias("earlier")


def _record(row: sa.RowMapping) -> WebhookDeliveryRecord:
    return cast(WebhookDeliveryRecord, dict(row))


async def insert_many(conn: Conn, rows: Sequence[WebhookDeliveryRecord]) -> None:
    """Put deliveries in the outbox (in the caller's transaction)."""
    if rows:
        await conn.execute(table.insert(), [dict(r) for r in rows])


async def claim_due(
    conn: Conn, now: datetime, lease_seconds: float, limit: int
) -> list[WebhookDeliveryRecord]:
    """Lease the deliveries due now whose run has nothing earlier pending to the same target."""
    earlier = (
        sa.select(sa.literal(1))
        .where(
            _EARLIER.c.run_id == table.c.run_id,
            _EARLIER.c.target == table.c.target,
            _EARLIER.c.status == "pending",
            sa.or_(
                _EARLIER.c.position < table.c.position,
                sa.and_(_EARLIER.c.position == table.c.position, _EARLIER.c.id < table.c.id),
            ),
        )
        .exists()
    )
    q = (
        sa.select(table)
        .where(table.c.status == "pending", table.c.next_attempt_at <= now, ~earlier)
        .order_by(table.c.next_attempt_at, table.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True, of=table)
    rows = [_record(r) for r in (await conn.execute(q)).mappings().all()]
    if rows:
        leased = now + timedelta(seconds=lease_seconds)
        await conn.execute(
            table.update()
            .where(table.c.id.in_([r["id"] for r in rows]))
            .values(next_attempt_at=leased)
        )
    return rows


async def record_attempt(conn: Conn, attempt: WebhookAttemptRecord, **values: object) -> None:
    """Keep one attempt and move its delivery on (``values``: status, next try, …)."""
    await conn.execute(attempts.insert().values(**attempt))
    await conn.execute(table.update().where(table.c.id == attempt["delivery_id"]).values(**values))


async def get(conn: Conn, tenant_id: str, delivery_id: str) -> WebhookDeliveryRecord | None:
    """One delivery of the tenant, if any."""
    q = sa.select(table).where(table.c.tenant_id == tenant_id, table.c.id == delivery_id)
    row = (await conn.execute(q)).mappings().first()
    return None if row is None else _record(row)


async def list_attempts(conn: Conn, tenant_id: str, delivery_id: str) -> list[WebhookAttemptRecord]:
    """A delivery's attempts, first first."""
    q = (
        sa.select(attempts)
        .where(attempts.c.tenant_id == tenant_id, attempts.c.delivery_id == delivery_id)
        .order_by(attempts.c.number)
    )
    return [cast(WebhookAttemptRecord, dict(r)) for r in (await conn.execute(q)).mappings().all()]


async def list_for_tenant(
    conn: Conn,
    tenant_id: str,
    *,
    target: str | None,
    run_id: str | None,
    status: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> list[WebhookDeliveryRecord]:
    """Deliveries newest first, keyset-paged; ``limit + 1`` rows tell if there is more."""
    q = sa.select(table).where(table.c.tenant_id == tenant_id)
    if target is not None:
        q = q.where(table.c.target == target)
    if run_id is not None:
        q = q.where(table.c.run_id == run_id)
    if status is not None:
        q = q.where(table.c.status == status)
    if after is not None:
        created, did = after
        q = q.where(
            sa.or_(
                table.c.created_at < created,
                sa.and_(table.c.created_at == created, table.c.id < did),
            )
        )
    q = q.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit + 1)
    return [_record(r) for r in (await conn.execute(q)).mappings().all()]


async def update(conn: Conn, tenant_id: str, delivery_id: str, **values: object) -> bool:
    """Change a delivery (a redelivery makes it pending again); False if there is none."""
    res = await conn.execute(
        table.update()
        .where(table.c.tenant_id == tenant_id, table.c.id == delivery_id)
        .values(**values)
    )
    return bool(res.rowcount)
