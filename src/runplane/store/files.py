"""Files' records (their bytes are blobs, store/blobs.py); every query names the tenant."""

from collections.abc import Sequence
from datetime import datetime
from typing import cast

import sqlalchemy as sa

from runplane.domain.ids import new_id
from runplane.domain.lifecycle import TERMINAL
from runplane.domain.models import FileRecord
from runplane.store.db import Conn
from runplane.store.dialect import insert_if_absent
from runplane.store.schema import files as table
from runplane.store.schema import runs

_ENDED = [str(s) for s in TERMINAL]


NO_HOLD = {"hold_reason": None, "hold_by": None, "hold_at": None}


def _record(row: sa.RowMapping) -> FileRecord:
    return cast(FileRecord, dict(row))


async def insert(conn: Conn, row: FileRecord) -> bool:
    """Record a file; False if its run's step already has a file of that name."""
    res = await conn.execute(insert_if_absent(conn, table).values(**row))
    return bool(res.rowcount)


async def get(conn: Conn, tenant_id: str, file_id: str) -> FileRecord | None:
    """One file of the tenant."""
    q = sa.select(table).where(table.c.tenant_id == tenant_id, table.c.id == file_id)
    row = (await conn.execute(q)).mappings().first()
    return None if row is None else _record(row)


async def get_many(conn: Conn, tenant_id: str, file_ids: Sequence[str]) -> list[FileRecord]:
    """The tenant's files among these ids."""
    q = sa.select(table).where(table.c.tenant_id == tenant_id, table.c.id.in_(list(file_ids)))
    return [_record(r) for r in (await conn.execute(q)).mappings().all()]


async def of_step(
    conn: Conn, tenant_id: str, run_id: str, step: int, name: str
) -> FileRecord | None:
    """The file of this name a run's step saved, if it did."""
    q = sa.select(table).where(
        table.c.tenant_id == tenant_id,
        table.c.run_id == run_id,
        table.c.step == step,
        table.c.name == name,
    )
    row = (await conn.execute(q)).mappings().first()
    return None if row is None else _record(row)


async def of_runs(conn: Conn, tenant_id: str, run_ids: Sequence[str]) -> list[FileRecord]:
    """The files these runs' steps saved, by step then time."""
    q = (
        sa.select(table)
        .where(table.c.tenant_id == tenant_id, table.c.run_id.in_(list(run_ids)))
        .order_by(table.c.step, table.c.created_at, table.c.id)
    )
    return [_record(r) for r in (await conn.execute(q)).mappings().all()]


async def in_sites(
    conn: Conn, tenant_id: str, site_ids: Sequence[str], before: datetime | None = None
) -> list[FileRecord]:
    """The files of these sites, oldest first; ``before`` keeps those uploaded until then."""
    q = sa.select(table).where(table.c.tenant_id == tenant_id, table.c.site_id.in_(site_ids))
    if before is not None:
        q = q.where(table.c.created_at <= before)
    q = q.order_by(table.c.created_at, table.c.id)
    return [_record(r) for r in (await conn.execute(q)).mappings().all()]


async def list_page(
    conn: Conn,
    tenant_id: str,
    *,
    site_id: str | None,
    run_id: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> list[FileRecord]:
    """Files newest first, keyset-paged; ``limit + 1`` rows tell if there is more."""
    q = sa.select(table).where(table.c.tenant_id == tenant_id)
    if site_id is not None:
        q = q.where(table.c.site_id == site_id)
    if run_id is not None:
        q = q.where(table.c.run_id == run_id)
    if after is not None:
        created, fid = after
        q = q.where(
            sa.or_(
                table.c.created_at < created,
                sa.and_(table.c.created_at == created, table.c.id < fid),
            )
        )
    q = q.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit + 1)
    return [_record(r) for r in (await conn.execute(q)).mappings().all()]


async def count_in_site(conn: Conn, tenant_id: str, site_id: str) -> int:
    """How many files a site holds."""
    q = sa.select(sa.func.count()).where(table.c.tenant_id == tenant_id, table.c.site_id == site_id)
    return int((await conn.execute(q)).scalar_one())


async def sha_in_use(conn: Conn, tenant_id: str, sha256: str) -> bool:
    """Whether any file of the tenant still has this content (and so needs its blob)."""
    q = sa.select(table.c.id).where(table.c.tenant_id == tenant_id, table.c.sha256 == sha256)
    return (await conn.execute(q.limit(1))).first() is not None


async def delete(conn: Conn, tenant_id: str, file_id: str) -> bool:
    """Remove a file's record; False if the tenant has none by that id."""
    res = await conn.execute(
        table.delete().where(table.c.tenant_id == tenant_id, table.c.id == file_id)
    )
    return bool(res.rowcount)


async def runs_with_inputs(conn: Conn, tenant_id: str) -> list[tuple[str, list[str], list[str]]]:
    """The tenant's runs that have not ended and read files: (id, file_ids, site_ids).

    They are few (a tenant's queue is bounded), so the JSON lists are matched here.
    """
    q = sa.select(runs.c.id, runs.c.file_ids, runs.c.site_ids).where(
        runs.c.tenant_id == tenant_id,
        runs.c.status.not_in(_ENDED),
        sa.or_(runs.c.file_ids.is_not(None), runs.c.site_ids.is_not(None)),
    )
    return [(r[0], list(r[1] or []), list(r[2] or [])) for r in (await conn.execute(q)).all()]


async def run_active(conn: Conn, tenant_id: str, run_id: str) -> bool:
    """Whether a run of the tenant exists and has not ended."""
    q = sa.select(runs.c.id).where(
        runs.c.tenant_id == tenant_id, runs.c.id == run_id, runs.c.status.not_in(_ENDED)
    )
    return (await conn.execute(q)).first() is not None


async def copy_to_rerun(
    conn: Conn, tenant_id: str, source_run: str, target_run: str, before: int
) -> int:
    """Give a rerun the files the steps it reuses (numbered below ``before``) saved."""
    rows = [r for r in await of_runs(conn, tenant_id, [source_run]) if (r["step"] or 0) < before]
    for r in rows:
        # A hold is on one file, not on its copies.
        copy = {**r, "id": new_id("fil"), "run_id": target_run} | NO_HOLD
        await conn.execute(table.insert().values(copy))
    return len(rows)


async def set_hold(
    conn: Conn,
    tenant_id: str,
    file_id: str,
    reason: str | None,
    by: str | None,
    at: datetime | None,
) -> bool:
    """Put a legal hold on a file (or lift it, with Nones); False if there is no such file."""
    res = await conn.execute(
        table.update()
        .where(table.c.tenant_id == tenant_id, table.c.id == file_id)
        .values(hold_reason=reason, hold_by=by, hold_at=at)
    )
    return bool(res.rowcount)


async def delete_of_run(conn: Conn, tenant_id: str, run_id: str) -> None:
    """Remove the files a run made, but those a run that has not ended reads."""
    read = {f for _, file_ids, _ in await runs_with_inputs(conn, tenant_id) for f in file_ids}
    stmt = table.delete().where(table.c.tenant_id == tenant_id, table.c.run_id == run_id)
    if read:
        stmt = stmt.where(table.c.id.not_in(read))
    await conn.execute(stmt)


async def older_unheld(
    conn: Conn, tenant_id: str, cutoff: datetime, limit: int
) -> list[FileRecord]:
    """The tenant's files made before ``cutoff`` and not on hold, oldest first."""
    q = (
        sa.select(table)
        .where(
            table.c.tenant_id == tenant_id,
            table.c.created_at < cutoff,
            table.c.hold_reason.is_(None),
        )
        .order_by(table.c.created_at, table.c.id)
        .limit(limit)
    )
    return [_record(r) for r in (await conn.execute(q)).mappings().all()]
