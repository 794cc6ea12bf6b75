"""Approvals: pending decisions that pause runs."""

from datetime import datetime
from typing import cast

import sqlalchemy as sa

from runplane.domain.models import ApprovalRecord, NewApproval
from runplane.store.db import Conn
from runplane.store.schema import approvals


def as_approval(row: sa.RowMapping) -> ApprovalRecord:
    """A row of ``approvals`` as the typed record."""
    return cast(ApprovalRecord, dict(row))


async def insert_approval(conn: Conn, row: NewApproval) -> None:
    """Record a new pending approval."""
    await conn.execute(approvals.insert().values(**row))


async def get_approval(
    conn: Conn, tenant_id: str | None, approval_id: str
) -> ApprovalRecord | None:
    """One approval, scoped to the tenant unless ``tenant_id`` is None."""
    q = sa.select(approvals).where(approvals.c.id == approval_id)
    if tenant_id is not None:
        q = q.where(approvals.c.tenant_id == tenant_id)
    row = (await conn.execute(q)).mappings().first()
    return None if row is None else as_approval(row)


async def decided_for_run(conn: Conn, run_id: str) -> dict[str, ApprovalRecord]:
    """A run's decided approvals by key: what a resumed run replays."""
    q = sa.select(approvals).where(approvals.c.run_id == run_id, approvals.c.status != "pending")
    return {r["key"]: as_approval(r) for r in (await conn.execute(q)).mappings().all()}


async def list_approvals(
    conn: Conn,
    tenant_id: str,
    *,
    run_id: str | None,
    status: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> list[ApprovalRecord]:
    """Approvals newest first, keyset-paged; ``limit + 1`` rows tell if there is more."""
    q = sa.select(approvals).where(approvals.c.tenant_id == tenant_id)
    if run_id:
        q = q.where(approvals.c.run_id == run_id)
    if status:
        q = q.where(approvals.c.status == status)
    if after is not None:
        created, aid = after
        q = q.where(
            sa.or_(
                approvals.c.created_at < created,
                sa.and_(approvals.c.created_at == created, approvals.c.id < aid),
            )
        )
    q = q.order_by(approvals.c.created_at.desc(), approvals.c.id.desc()).limit(limit + 1)
    return [as_approval(r) for r in (await conn.execute(q)).mappings().all()]


async def resolve(conn: Conn, approval_id: str, **values: object) -> bool:
    """Decide a pending approval; False if it was no longer pending."""
    return await update_pending(conn, approval_id, **values)


async def update_pending(conn: Conn, approval_id: str, **values: object) -> bool:
    """Change a pending approval (its decision, or its link); False if no longer pending."""
    res = await conn.execute(
        approvals.update()
        .where(approvals.c.id == approval_id, approvals.c.status == "pending")
        .values(**values)
    )
    return bool(res.rowcount == 1)


async def close_pending(conn: Conn, run_id: str, status: str, at: datetime) -> None:
    """End every pending approval of a run that ended without them."""
    await conn.execute(
        approvals.update()
        .where(approvals.c.run_id == run_id, approvals.c.status == "pending")
        .values(status=status, decided_at=at, decided_by="system", link_sealed=None)
    )


async def expired(conn: Conn, now: datetime, limit: int = 100) -> list[ApprovalRecord]:
    """Pending approvals whose expiry has passed."""
    q = (
        sa.select(approvals)
        .where(approvals.c.status == "pending", approvals.c.expires_at < now)
        .limit(limit)
    )
    return [as_approval(r) for r in (await conn.execute(q)).mappings().all()]


async def delete_for_run(conn: Conn, run_id: str) -> None:
    """Remove a deleted run's approvals."""
    await conn.execute(approvals.delete().where(approvals.c.run_id == run_id))
