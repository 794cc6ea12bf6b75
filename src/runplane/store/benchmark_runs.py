"""Suite runs and scored results: the rows a suite's driver and the scorers write."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import cast

import sqlalchemy as sa

from runplane.domain.models import BenchmarkResultRecord, BenchmarkSuiteRecord
from runplane.store.db import Conn
from runplane.store.runs import newest_first
from runplane.store.schema import benchmark_results, benchmark_suites, runs

_ENDED = ("succeeded", "failed", "canceled")


def _suite(row: sa.RowMapping) -> BenchmarkSuiteRecord:
    return cast(BenchmarkSuiteRecord, dict(row))


def _result(row: sa.RowMapping) -> BenchmarkResultRecord:
    return cast(BenchmarkResultRecord, dict(row))


async def insert_suite(conn: Conn, row: BenchmarkSuiteRecord) -> None:
    """Store a new suite run."""
    await conn.execute(benchmark_suites.insert().values(**row))


async def get_suite(conn: Conn, tenant_id: str, suite_id: str) -> BenchmarkSuiteRecord | None:
    """One suite run of the tenant."""
    stmt = sa.select(benchmark_suites).where(
        benchmark_suites.c.tenant_id == tenant_id, benchmark_suites.c.id == suite_id
    )
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else _suite(row)


async def suites_page(
    conn: Conn,
    tenant_id: str,
    *,
    benchmark_id: str | None = None,
    agent_id: str | None = None,
    kind: str | None = None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> list[BenchmarkSuiteRecord]:
    """Suite runs newest first, keyset-paged."""
    c = benchmark_suites.c
    stmt = sa.select(benchmark_suites).where(c.tenant_id == tenant_id)
    if benchmark_id is not None:
        stmt = stmt.where(c.benchmark_id == benchmark_id)
    if agent_id is not None:
        stmt = stmt.where(c.agent_id == agent_id)
    if kind is not None:
        stmt = stmt.where(c.kind == kind)
    stmt = newest_first(stmt, c.created_at, c.id, after, limit)
    return [_suite(r) for r in (await conn.execute(stmt)).mappings().all()]


async def update_suite(
    conn: Conn, suite_id: str, values: Mapping[str, object], *, owner: str | None = None
) -> bool:
    """Change a suite row (only while ``owner`` drives it, when given); False if not."""
    stmt = benchmark_suites.update().where(benchmark_suites.c.id == suite_id)
    if owner is not None:
        stmt = stmt.where(benchmark_suites.c.owner == owner)
    return bool((await conn.execute(stmt.values(**values))).rowcount)


async def running_suites(conn: Conn) -> list[BenchmarkSuiteRecord]:
    """Every suite still running, of every tenant (few: a suite is a deliberate act)."""
    stmt = sa.select(benchmark_suites).where(benchmark_suites.c.status == "running")
    return [_suite(r) for r in (await conn.execute(stmt.limit(200))).mappings().all()]


async def claim_suite(conn: Conn, suite: BenchmarkSuiteRecord, owner: str) -> bool:
    """Take a running suite over from the owner it had; False if another process was first."""
    c = benchmark_suites.c
    owned = c.owner.is_(None) if suite["owner"] is None else c.owner == suite["owner"]
    stmt = (
        benchmark_suites.update()
        .where(c.id == suite["id"], c.status == "running", owned)
        .values(owner=owner)
    )
    return bool((await conn.execute(stmt)).rowcount)


# -- results -----------------------------------------------------------------------------


async def insert_results(conn: Conn, rows: Sequence[BenchmarkResultRecord]) -> None:
    """Store new results in one statement."""
    if rows:
        await conn.execute(benchmark_results.insert(), [dict(r) for r in rows])


async def get_result(conn: Conn, tenant_id: str, result_id: str) -> BenchmarkResultRecord | None:
    """One result of the tenant."""
    stmt = sa.select(benchmark_results).where(
        benchmark_results.c.tenant_id == tenant_id, benchmark_results.c.id == result_id
    )
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else _result(row)


async def results_of_suite(
    conn: Conn, tenant_id: str, suite_id: str
) -> list[BenchmarkResultRecord]:
    """Every result of a suite, in the order its items were given."""
    c = benchmark_results.c
    stmt = (
        sa.select(benchmark_results)
        .where(c.tenant_id == tenant_id, c.suite_id == suite_id)
        .order_by(c.created_at, c.id)
    )
    return [_result(r) for r in (await conn.execute(stmt)).mappings().all()]


async def results_page(
    conn: Conn,
    tenant_id: str,
    *,
    suite_id: str | None = None,
    run_id: str | None = None,
    benchmark_id: str | None = None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> list[BenchmarkResultRecord]:
    """Results newest first, keyset-paged, of a suite, a run or a benchmark."""
    c = benchmark_results.c
    stmt = sa.select(benchmark_results).where(c.tenant_id == tenant_id)
    if suite_id is not None:
        stmt = stmt.where(c.suite_id == suite_id)
    if run_id is not None:
        stmt = stmt.where(c.run_id == run_id)
    if benchmark_id is not None:
        stmt = stmt.where(c.benchmark_id == benchmark_id)
    stmt = newest_first(stmt, c.created_at, c.id, after, limit)
    return [_result(r) for r in (await conn.execute(stmt)).mappings().all()]


async def update_result(conn: Conn, result_id: str, values: Mapping[str, object]) -> None:
    """Change a result row (its run, or its verdicts once scored)."""
    await conn.execute(
        benchmark_results.update().where(benchmark_results.c.id == result_id).values(**values)
    )


async def pending_results(conn: Conn, kind: str, limit: int) -> list[BenchmarkResultRecord]:
    """Results of a kind still to be scored whose run has ended, of every tenant."""
    c = benchmark_results.c
    stmt = (
        sa.select(benchmark_results)
        .join(runs, runs.c.id == c.run_id)
        .where(c.kind == kind, c.status == "pending", runs.c.status.in_(_ENDED))
        .order_by(c.created_at)
        .limit(limit)
    )
    return [_result(r) for r in (await conn.execute(stmt)).mappings().all()]


async def unscored_production_runs(
    conn: Conn,
    tenant_id: str,
    agent_id: str,
    benchmark_id: str,
    *,
    created_after: datetime,
    finished_after: datetime,
    limit: int,
) -> list[tuple[str, str, datetime]]:
    """Ended production runs of an agent (not a benchmark's, not replays) that this
    benchmark has no result of: (run id, revision id, finished at), oldest end first."""
    c = benchmark_results.c
    scored = sa.exists().where(c.benchmark_id == benchmark_id, c.run_id == runs.c.id)
    stmt = (
        sa.select(runs.c.id, runs.c.revision_id, runs.c.finished_at)
        .where(
            runs.c.tenant_id == tenant_id,
            runs.c.agent_id == agent_id,
            runs.c.created_at >= created_after,
            runs.c.status.in_(_ENDED),
            runs.c.finished_at > finished_after,
            runs.c.trigger != "benchmark",
            runs.c.replay_of.is_(None),
            ~scored,
        )
        .order_by(runs.c.finished_at)
        .limit(limit)
    )
    return [(str(r[0]), str(r[1]), r[2]) for r in (await conn.execute(stmt)).all()]
