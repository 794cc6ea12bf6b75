"""Evidence rows: tenants' signing keys, and evidence exports with their builder's heartbeat."""

from collections.abc import Collection
from datetime import datetime
from typing import cast

import sqlalchemy as sa

from runplane.domain.models import EvidenceExportRecord, SigningKeyRecord
from runplane.store.db import Conn
from runplane.store.dialect import clock, insert_if_absent
from runplane.store.runs import newest_first
from runplane.store.schema import evidence_exports as exports
from runplane.store.schema import runs, signing_keys

# -- signing keys ----------------------------------------------------------------------


async def active_key(conn: Conn, tenant_id: str) -> SigningKeyRecord | None:
    """The tenant's key that signs now, if it has one."""
    q = sa.select(signing_keys).where(
        signing_keys.c.tenant_id == tenant_id, signing_keys.c.retired_at.is_(None)
    )
    row = (await conn.execute(q)).mappings().first()
    return None if row is None else cast(SigningKeyRecord, dict(row))


async def list_keys(conn: Conn, tenant_id: str) -> list[SigningKeyRecord]:
    """All the tenant's keys, newest first (retired ones still check old bundles)."""
    q = (
        sa.select(signing_keys)
        .where(signing_keys.c.tenant_id == tenant_id)
        .order_by(signing_keys.c.created_at.desc(), signing_keys.c.id.desc())
    )
    return [cast(SigningKeyRecord, dict(r)) for r in (await conn.execute(q)).mappings().all()]


async def insert_key_if_none_active(conn: Conn, row: SigningKeyRecord) -> bool:
    """Add an active key unless the tenant has one (the unique index decides a race)."""
    res = await conn.execute(insert_if_absent(conn, signing_keys).values(**row))
    return bool(res.rowcount)


async def retire_keys(conn: Conn, tenant_id: str, at: datetime) -> list[str]:
    """Retire the tenant's active key; the ids retired."""
    q = (
        signing_keys.update()
        .where(signing_keys.c.tenant_id == tenant_id, signing_keys.c.retired_at.is_(None))
        .values(retired_at=at)
        .returning(signing_keys.c.id)
    )
    return [str(r[0]) for r in (await conn.execute(q)).all()]


# -- exports ---------------------------------------------------------------------------


def _export(row: sa.RowMapping) -> EvidenceExportRecord:
    return cast(EvidenceExportRecord, dict(row))


async def insert_export(conn: Conn, row: EvidenceExportRecord) -> None:
    """Record a new export."""
    await conn.execute(exports.insert().values(**row))


async def get_export(conn: Conn, tenant_id: str, export_id: str) -> EvidenceExportRecord | None:
    """One export of the tenant."""
    q = sa.select(exports).where(exports.c.tenant_id == tenant_id, exports.c.id == export_id)
    row = (await conn.execute(q)).mappings().first()
    return None if row is None else _export(row)


async def list_exports(
    conn: Conn, tenant_id: str, limit: int, after: tuple[datetime, str] | None
) -> list[EvidenceExportRecord]:
    """The tenant's exports newest first, keyset-paged (``limit + 1`` rows)."""
    q = newest_first(
        sa.select(exports).where(exports.c.tenant_id == tenant_id),
        exports.c.created_at,
        exports.c.id,
        after,
        limit,
    )
    return [_export(r) for r in (await conn.execute(q)).mappings().all()]


async def update_export(
    conn: Conn, export_id: str, owner: str, at: datetime, **values: object
) -> bool:
    """Change an export this builder still owns, and beat (False: another process took it)."""
    q = (
        exports.update()
        .where(exports.c.id == export_id, exports.c.owner == owner)
        .values(**values, heartbeat_at=clock(conn, at))
    )
    return bool((await conn.execute(q)).rowcount)


async def finished_before(
    conn: Conn, tenant_id: str, cutoff: datetime, limit: int
) -> list[EvidenceExportRecord]:
    """The tenant's exports that ended (succeeded or failed) before ``cutoff``, oldest first."""
    q = (
        sa.select(exports)
        .where(
            exports.c.tenant_id == tenant_id,
            exports.c.status.in_(["succeeded", "failed"]),
            exports.c.finished_at < cutoff,
        )
        .order_by(exports.c.finished_at)
        .limit(limit)
    )
    return [_export(r) for r in (await conn.execute(q)).mappings().all()]


async def delete_exports(conn: Conn, tenant_id: str, export_ids: Collection[str]) -> None:
    """Forget some of the tenant's exports."""
    await conn.execute(
        exports.delete().where(exports.c.tenant_id == tenant_id, exports.c.id.in_(export_ids))
    )


async def stale_exports(conn: Conn, at: datetime, seconds: float) -> list[EvidenceExportRecord]:
    """Unfinished exports whose builder has not beaten for ``seconds``: its process is gone."""
    q = sa.select(exports).where(
        exports.c.status.in_(["queued", "running"]),
        sa.or_(exports.c.heartbeat_at.is_(None), exports.c.heartbeat_at < clock(conn, at, seconds)),
    )
    return [_export(r) for r in (await conn.execute(q.limit(20))).mappings().all()]


async def claim_export(conn: Conn, export: EvidenceExportRecord, owner: str, at: datetime) -> bool:
    """Take an export over from the builder it had; False if another process was first."""
    owned = (
        exports.c.owner.is_(None) if export["owner"] is None else exports.c.owner == export["owner"]
    )
    beat = (
        exports.c.heartbeat_at.is_(None)
        if export["heartbeat_at"] is None
        else exports.c.heartbeat_at == export["heartbeat_at"]
    )
    q = (
        exports.update()
        .where(
            exports.c.id == export["id"], exports.c.status.in_(["queued", "running"]), owned, beat
        )
        .values(owner=owner, heartbeat_at=clock(conn, at), status="running", runs_done=0, bytes=0)
    )
    return bool((await conn.execute(q)).rowcount)


# -- runs an export names --------------------------------------------------------------


async def run_ids_matching(
    conn: Conn,
    tenant_id: str,
    *,
    run_ids: list[str] | None = None,
    agent_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    statuses: Collection[str] | None = None,
    outside: Collection[str] | None = None,
) -> list[str]:
    """The ids of the tenant's runs by id or by query, oldest first."""
    q = sa.select(runs.c.id).where(runs.c.tenant_id == tenant_id)
    if run_ids is not None:
        q = q.where(runs.c.id.in_(run_ids))
    if agent_id is not None:
        q = q.where(sa.or_(runs.c.agent_id == agent_id, runs.c.agent_name == agent_id))
    if created_after is not None:
        q = q.where(runs.c.created_at >= created_after)
    if created_before is not None:
        q = q.where(runs.c.created_at < created_before)
    if statuses is not None:
        q = q.where(runs.c.status.in_(list(statuses)))
    if outside is not None:
        q = q.where(runs.c.status.not_in(list(outside)))
    q = q.order_by(runs.c.created_at, runs.c.id)
    return [str(r[0]) for r in (await conn.execute(q)).all()]
