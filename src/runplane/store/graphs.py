"""Assistants, threads and crons (the Agent Protocol's resources), and runs by thread."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import sqlalchemy as sa

from runplane.domain.json import JSON
from runplane.domain.models import (
    AssistantRecord,
    AssistantVersionRecord,
    CronRecord,
    RunInLine,
    RunRecord,
    ThreadRecord,
    ThreadView,
)
from runplane.store.db import Conn, direct
from runplane.store.dialect import json_key_equals
from runplane.store.runs import as_run
from runplane.store.schema import assistant_versions, assistants, crons, runs, threads

ACTIVE = ("queued", "running")


# -- assistants ------------------------------------------------------------------------


def as_assistant(row: sa.RowMapping) -> AssistantRecord:
    """A row of ``assistants`` as the typed record."""
    return cast(AssistantRecord, dict(row))


async def get_assistant(conn: Conn, tenant_id: str, assistant_id: str) -> AssistantRecord | None:
    """One assistant of the tenant."""
    stmt = sa.select(assistants).where(
        assistants.c.tenant_id == tenant_id, assistants.c.id == assistant_id
    )
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else as_assistant(row)


async def list_assistants(
    conn: Conn, tenant_id: str, graph_id: str | None = None
) -> list[AssistantRecord]:
    """The tenant's assistants, newest first."""
    stmt = sa.select(assistants).where(assistants.c.tenant_id == tenant_id)
    if graph_id is not None:
        stmt = stmt.where(assistants.c.graph_id == graph_id)
    stmt = stmt.order_by(assistants.c.created_at.desc(), assistants.c.id)
    return [as_assistant(r) for r in (await conn.execute(stmt)).mappings().all()]


async def insert_assistant(conn: Conn, row: AssistantRecord, revision_id: str) -> None:
    """Create an assistant with its first version."""
    await conn.execute(assistants.insert(), row)
    await insert_version(conn, row, revision_id)


async def insert_version(conn: Conn, row: AssistantRecord, revision_id: str) -> None:
    """Record the assistant's current fields as its version ``row['version']``."""
    await conn.execute(
        assistant_versions.insert(),
        {
            "assistant_id": row["id"],
            "version": row["version"],
            "revision_id": revision_id,
            "name": row["name"],
            "description": row["description"],
            "config": row["config"],
            "context": row["context"],
            "metadata": row["metadata"],
            "created_at": row["updated_at"],
        },
    )


def _assistant(tenant_id: str, assistant_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(assistants.c.tenant_id == tenant_id, assistants.c.id == assistant_id)


def _versions_of(tenant_id: str, assistant_id: str) -> sa.ColumnElement[bool]:
    """The versions of the tenant's assistant (versions carry no tenant of their own)."""
    mine = sa.select(assistants.c.id).where(_assistant(tenant_id, assistant_id))
    return assistant_versions.c.assistant_id.in_(mine.scalar_subquery())


async def update_assistant(conn: Conn, tenant_id: str, assistant_id: str, **values: object) -> None:
    """Change the columns of the tenant's assistant."""
    await conn.execute(
        assistants.update().where(_assistant(tenant_id, assistant_id)).values(**values)
    )


async def delete_assistant(conn: Conn, tenant_id: str, assistant_id: str) -> None:
    """Remove the tenant's assistant and its versions."""
    await conn.execute(assistant_versions.delete().where(_versions_of(tenant_id, assistant_id)))
    await conn.execute(assistants.delete().where(_assistant(tenant_id, assistant_id)))


async def list_versions(
    conn: Conn, tenant_id: str, assistant_id: str
) -> list[AssistantVersionRecord]:
    """The versions of the tenant's assistant, newest first."""
    stmt = (
        sa.select(assistant_versions)
        .where(_versions_of(tenant_id, assistant_id))
        .order_by(assistant_versions.c.version.desc())
    )
    rows = (await conn.execute(stmt)).mappings().all()
    return [cast(AssistantVersionRecord, dict(r)) for r in rows]


async def max_version(conn: Conn, tenant_id: str, assistant_id: str) -> int:
    """The highest version number the tenant's assistant has had."""
    stmt = sa.select(sa.func.max(assistant_versions.c.version)).where(
        _versions_of(tenant_id, assistant_id)
    )
    return int((await conn.execute(stmt)).scalar() or 0)


# -- threads ---------------------------------------------------------------------------


def _thread(tenant_id: str, thread_id: str) -> sa.ColumnElement[bool]:
    # Callers choose thread ids: a thread is known by its tenant and its id together.
    return sa.and_(threads.c.tenant_id == tenant_id, threads.c.id == thread_id)


def _runs_of_thread(tenant_id: str, thread_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(runs.c.tenant_id == tenant_id, runs.c.thread_id == thread_id)


_GET_THREAD = direct(
    sa.select(threads).where(
        threads.c.tenant_id == sa.bindparam("tenant_id"), threads.c.id == sa.bindparam("id")
    )
)


async def get_thread(conn: Conn, tenant_id: str, thread_id: str) -> ThreadRecord | None:
    """One thread of the tenant."""
    params = {"tenant_id": tenant_id, "id": thread_id}
    row = (await conn.execute(_GET_THREAD, params)).mappings().first()
    return None if row is None else cast(ThreadRecord, dict(row))


THREAD_SORTS = {
    "thread_id": threads.c.id,
    "status": threads.c.status,
    "created_at": threads.c.created_at,
    "updated_at": threads.c.updated_at,
}


@dataclass(frozen=True)
class ThreadFilter:
    """Which of a tenant's threads a search or count wants; None matches any."""

    ids: Sequence[str] | None = None
    status: str | None = None
    metadata: Mapping[str, JSON] | None = None
    values: Mapping[str, JSON] | None = None

    def where(self, dialect: str, tenant_id: str) -> list[sa.ColumnElement[bool]]:
        """The conditions, in ``dialect``."""
        where = [threads.c.tenant_id == tenant_id]
        if self.ids is not None:
            where.append(threads.c.id.in_(list(self.ids)))
        if self.status is not None:
            where.append(thread_status() == self.status)
        for column, wanted in (
            (threads.c.metadata, self.metadata),
            (threads.c["values"], self.values),
        ):
            where.extend(json_key_equals(dialect, column, k, v) for k, v in (wanted or {}).items())
        return where


def thread_busy() -> sa.ColumnElement[bool]:
    """Whether the thread has a run queued or running."""
    return sa.exists().where(
        runs.c.tenant_id == threads.c.tenant_id,
        runs.c.thread_id == threads.c.id,
        runs.c.status.in_(ACTIVE),
    )


def thread_status() -> sa.ColumnElement[str]:
    """The status a client sees: busy while a run is queued or running, else the stored one."""
    return sa.case((thread_busy(), "busy"), else_=threads.c.status)


async def search_threads(
    conn: Conn,
    tenant_id: str,
    wanted: ThreadFilter,
    *,
    sort_by: str = "created_at",
    descending: bool = True,
    limit: int | None = None,
    offset: int = 0,
) -> list[ThreadView]:
    """The tenant's threads that match, each with ``busy``, sorted by a ``THREAD_SORTS`` key."""
    key = THREAD_SORTS[sort_by]
    stmt = (
        sa.select(threads, thread_busy().label("busy"))
        .where(*wanted.where(conn.dialect.name, tenant_id))
        # Ties go newest first, then by id.
        .order_by(
            key.desc() if descending else key.asc(), threads.c.created_at.desc(), threads.c.id
        )
        .offset(offset)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [cast(ThreadView, dict(r)) for r in (await conn.execute(stmt)).mappings().all()]


async def count_threads(conn: Conn, tenant_id: str, wanted: ThreadFilter) -> int:
    """How many of the tenant's threads match."""
    stmt = (
        sa.select(sa.func.count())
        .select_from(threads)
        .where(*wanted.where(conn.dialect.name, tenant_id))
    )
    return int((await conn.execute(stmt)).scalar_one())


async def insert_thread(conn: Conn, row: ThreadRecord) -> None:
    """Create a thread."""
    await conn.execute(threads.insert(), row)


# The SET clause comes from the parameters' keys: one cached statement for every update.
_UPDATE_THREAD = direct(
    threads.update().where(
        threads.c.tenant_id == sa.bindparam("w_tenant"), threads.c.id == sa.bindparam("w_id")
    )
)


async def update_thread(conn: Conn, tenant_id: str, thread_id: str, **values: object) -> None:
    """Change the columns of the tenant's thread."""
    await conn.execute(_UPDATE_THREAD, {**values, "w_tenant": tenant_id, "w_id": thread_id})


async def delete_thread(conn: Conn, tenant_id: str, thread_id: str) -> None:
    """Remove the tenant's thread row (its checkpoints go through the saver)."""
    await conn.execute(threads.delete().where(_thread(tenant_id, thread_id)))


async def busy_threads(conn: Conn, tenant_id: str, thread_ids: Sequence[str]) -> set[str]:
    """Which of the tenant's threads have a run queued or running."""
    if not thread_ids:
        return set()
    stmt = (
        sa.select(runs.c.thread_id)
        .where(
            runs.c.tenant_id == tenant_id,
            runs.c.thread_id.in_(list(thread_ids)),
            runs.c.status.in_(ACTIVE),
        )
        .distinct()
    )
    return set((await conn.execute(stmt)).scalars().all())


# -- runs by thread --------------------------------------------------------------------


async def thread_runs(
    conn: Conn,
    tenant_id: str,
    thread_id: str,
    *,
    statuses: Sequence[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[RunRecord]:
    """The runs of the tenant's thread, newest first."""
    if statuses is not None and limit is None and not offset:
        if not statuses:
            return []
        params = {"tenant_id": tenant_id, "thread_id": thread_id}
        found = await conn.execute(_thread_runs_in(tuple(statuses)), params)
        return [as_run(r) for r in found.mappings().all()]
    stmt = sa.select(runs).where(_runs_of_thread(tenant_id, thread_id))
    if statuses is not None:
        stmt = stmt.where(runs.c.status.in_(list(statuses)))
    stmt = stmt.order_by(runs.c.created_at.desc(), runs.c.id.desc()).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [as_run(r) for r in (await conn.execute(stmt)).mappings().all()]


# A thread's runs in a set of statuses: one statement per set, kept for direct().
_BY_STATUSES: dict[tuple[str, ...], sa.Select[tuple[object, ...]]] = {}


def _thread_runs_in(statuses: tuple[str, ...]) -> sa.Select[tuple[object, ...]]:
    if statuses not in _BY_STATUSES:
        _BY_STATUSES[statuses] = direct(
            sa.select(runs)
            .where(
                runs.c.tenant_id == sa.bindparam("tenant_id"),
                runs.c.thread_id == sa.bindparam("thread_id"),
                sa.or_(*(runs.c.status == s for s in statuses)),  # no expanding IN
            )
            .order_by(runs.c.created_at.desc(), runs.c.id.desc())
        )
    return _BY_STATUSES[statuses]


_RUNS_AHEAD = direct(
    sa.select(runs.c.id, runs.c.status)
    .where(
        runs.c.tenant_id == sa.bindparam("tenant_id"),
        runs.c.thread_id == sa.bindparam("thread_id"),
        sa.or_(*(runs.c.status == s for s in ACTIVE)),  # no expanding IN
        sa.or_(
            runs.c.created_at < sa.bindparam("created_at"),
            sa.and_(
                runs.c.created_at == sa.bindparam("created_at"), runs.c.id < sa.bindparam("id")
            ),
        ),
    )
    .order_by(runs.c.created_at, runs.c.id)
)


async def runs_ahead(
    conn: Conn, tenant_id: str, thread_id: str, created_at: datetime, run_id: str
) -> list[RunInLine]:
    """Runs of the tenant's thread created before this one that are still queued or running."""
    params = {"tenant_id": tenant_id, "thread_id": thread_id, "created_at": created_at}
    rows = (await conn.execute(_RUNS_AHEAD, {**params, "id": run_id})).mappings().all()
    return [cast(RunInLine, dict(r)) for r in rows]


# -- crons -----------------------------------------------------------------------------


def as_cron(row: sa.RowMapping) -> CronRecord:
    """A row of ``crons`` as the typed record."""
    return cast(CronRecord, dict(row))


async def get_cron(conn: Conn, tenant_id: str, cron_id: str) -> CronRecord | None:
    """One cron of the tenant."""
    stmt = sa.select(crons).where(crons.c.tenant_id == tenant_id, crons.c.id == cron_id)
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else as_cron(row)


async def list_crons(conn: Conn, tenant_id: str) -> list[CronRecord]:
    """The tenant's crons, newest first."""
    stmt = (
        sa.select(crons)
        .where(crons.c.tenant_id == tenant_id)
        .order_by(crons.c.created_at.desc(), crons.c.id)
    )
    return [as_cron(r) for r in (await conn.execute(stmt)).mappings().all()]


async def insert_cron(conn: Conn, row: CronRecord) -> None:
    """Create a cron."""
    await conn.execute(crons.insert(), row)


def _cron(tenant_id: str, cron_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(crons.c.tenant_id == tenant_id, crons.c.id == cron_id)


async def update_cron(conn: Conn, tenant_id: str, cron_id: str, **values: object) -> None:
    """Change the columns of the tenant's cron."""
    await conn.execute(crons.update().where(_cron(tenant_id, cron_id)).values(**values))


async def delete_cron(conn: Conn, tenant_id: str, cron_id: str) -> None:
    """Remove the tenant's cron."""
    await conn.execute(crons.delete().where(_cron(tenant_id, cron_id)))


async def due_crons(conn: Conn, now: datetime, limit: int = 50) -> list[CronRecord]:
    """Enabled crons whose next run is due, of every tenant (the scheduler's sweep)."""
    stmt = (
        sa.select(crons)
        .where(crons.c.enabled.is_(True), crons.c.next_run_date <= now)
        .order_by(crons.c.next_run_date)
        .limit(limit)
    )
    return [as_cron(r) for r in (await conn.execute(stmt)).mappings().all()]


async def claim_cron(
    conn: Conn, tenant_id: str, cron_id: str, due: datetime, next_run: datetime | None
) -> bool:
    """Move the tenant's due cron to its next date; only one process wins a given due date."""
    res = await conn.execute(
        crons.update()
        .where(_cron(tenant_id, cron_id), crons.c.next_run_date == due)
        .values(next_run_date=next_run, enabled=next_run is not None)
    )
    return res.rowcount == 1
