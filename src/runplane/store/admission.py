"""What admission reads and writes: a tenant's active runs, its held runs, their release."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from runplane.domain.models import RunRecord
from runplane.store.db import Conn, direct
from runplane.store.runs import as_run
from runplane.store.schema import TS, runs, tenants


@dataclass(frozen=True)
class Usage:
    """A tenant's active runs, counted by where they are in admission."""

    held: int = 0  # queued, not yet handed to the engine (over quota, or scheduled)
    waiting: int = 0  # queued and handed to the engine, not started yet
    running: int = 0

    @property
    def queued(self) -> int:
        """Runs that have not started: what the queued quota counts."""
        return self.held + self.waiting

    @property
    def in_flight(self) -> int:
        """Runs that hold a slot or are in line for one: what the running quota counts."""
        return self.waiting + self.running


_HELD = runs.c.admitted_at.is_(None)
_USAGE = direct(
    sa.select(runs.c.status, _HELD.label("held"), sa.func.count().label("n"))
    .where(
        runs.c.tenant_id == sa.bindparam("tenant_id"),
        sa.or_(runs.c.status == "queued", runs.c.status == "running"),  # no expanding IN
    )
    .group_by(runs.c.status, _HELD)
)


async def usage(conn: Conn, tenant_id: str) -> Usage:
    """How many of the tenant's runs are held, waiting for a slot, and running."""
    held = waiting = running = 0
    for row in (await conn.execute(_USAGE, {"tenant_id": tenant_id})).all():
        status, is_held, n = str(row[0]), bool(row[1]), int(row[2])
        if status == "running":
            running += n
        elif is_held:
            held += n
        else:
            waiting += n
    return Usage(held=held, waiting=waiting, running=running)


def _due(now: datetime | sa.BindParameter[datetime]) -> sa.ColumnElement[bool]:
    return sa.and_(
        runs.c.status == "queued",
        _HELD,
        sa.or_(runs.c.not_before.is_(None), runs.c.not_before <= now),
    )


_HELD_DUE = direct(
    sa.select(runs.c.id)
    .where(
        runs.c.tenant_id == sa.bindparam("tenant_id"),
        _due(sa.bindparam("now", type_=TS)),
    )
    .order_by(runs.c.created_at, runs.c.id)
    .limit(sa.bindparam("limit"))
)


async def held_due(conn: Conn, tenant_id: str, now: datetime, limit: int) -> list[str]:
    """The tenant's held runs that may start now, oldest first."""
    params = {"tenant_id": tenant_id, "now": now, "limit": limit}
    return [str(r[0]) for r in (await conn.execute(_HELD_DUE, params)).all()]


async def tenants_with_due(conn: Conn, now: datetime, limit: int = 200) -> list[str]:
    """Tenants that have held runs which may start now."""
    stmt = sa.select(runs.c.tenant_id).where(_due(now)).distinct().limit(limit)
    return [str(r) for r in (await conn.execute(stmt)).scalars().all()]


_ADMIT = direct(
    runs.update()
    .where(runs.c.id == sa.bindparam("run_id"), runs.c.status == "queued", _HELD)
    .values(admitted_at=sa.bindparam("at"))
    .returning(*runs.c)
)


async def admit(conn: Conn, run_ids: Sequence[str], at: datetime) -> list[RunRecord]:
    """Mark held runs admitted; return those this call admitted (not another process).

    Each as it now is, so that the worker starting it need not read it again.
    """
    admitted = []
    for run_id in run_ids:
        row = (await conn.execute(_ADMIT, {"run_id": run_id, "at": at})).mappings().first()
        if row is not None:
            admitted.append(as_run(row))
    return admitted


async def tenant_limits(conn: Conn, tenant_id: str) -> tuple[int | None, int | None]:
    """The tenant's own ``(max_running, max_queued)``; None where it has none."""
    stmt = sa.select(tenants.c.max_running, tenants.c.max_queued).where(tenants.c.id == tenant_id)
    row = (await conn.execute(stmt)).first()
    if row is None:
        return None, None
    return row[0], row[1]


async def set_tenant_limits(conn: Conn, tenant_id: str, values: dict[str, int | None]) -> None:
    """Set (or, with None, clear) the tenant's quota overrides."""
    await conn.execute(tenants.update().where(tenants.c.id == tenant_id).values(**values))
