"""Benchmarks and their cases: an agent's scorers, and the inputs they judge."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import cast

import sqlalchemy as sa

from runplane.domain.models import BenchmarkCaseRecord, BenchmarkRecord
from runplane.store.db import Conn
from runplane.store.runs import newest_first
from runplane.store.schema import agents, benchmark_cases, benchmarks


def _nulls(values: Mapping[str, object]) -> dict[str, object]:
    """The values with an absent ``on_completion`` as SQL NULL, not JSON ``null``: the
    completion sampler, once a second, has the database pick its few benchmarks out with
    ``IS NOT NULL`` rather than read every tenant's."""
    out = dict(values)
    if "on_completion" in out and out["on_completion"] is None:
        out["on_completion"] = sa.null()
    return out


async def insert(conn: Conn, row: BenchmarkRecord) -> None:
    """Store a new benchmark, in the caller's transaction."""
    await conn.execute(benchmarks.insert().values(**_nulls(row)))


async def get(conn: Conn, tenant_id: str, benchmark_id: str) -> BenchmarkRecord | None:
    """One benchmark of the tenant."""
    stmt = sa.select(benchmarks).where(
        benchmarks.c.tenant_id == tenant_id, benchmarks.c.id == benchmark_id
    )
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else cast(BenchmarkRecord, dict(row))


async def find(conn: Conn, tenant_id: str, agent_id: str, name: str) -> BenchmarkRecord | None:
    """An agent's benchmark by its name."""
    stmt = sa.select(benchmarks).where(
        benchmarks.c.tenant_id == tenant_id,
        benchmarks.c.agent_id == agent_id,
        benchmarks.c.name == name,
    )
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else cast(BenchmarkRecord, dict(row))


async def list_page(
    conn: Conn,
    tenant_id: str,
    *,
    agent_id: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> list[BenchmarkRecord]:
    """Benchmarks newest first, keyset-paged; ``limit + 1`` rows tell if there is more."""
    stmt = sa.select(benchmarks).where(benchmarks.c.tenant_id == tenant_id)
    if agent_id is not None:
        stmt = stmt.where(benchmarks.c.agent_id == agent_id)
    stmt = newest_first(stmt, benchmarks.c.created_at, benchmarks.c.id, after, limit)
    return [cast(BenchmarkRecord, dict(r)) for r in (await conn.execute(stmt)).mappings().all()]


async def update(
    conn: Conn, tenant_id: str, benchmark_id: str, values: Mapping[str, object]
) -> None:
    """Change a benchmark's fields."""
    await conn.execute(
        benchmarks.update()
        .where(benchmarks.c.tenant_id == tenant_id, benchmarks.c.id == benchmark_id)
        .values(**_nulls(values))
    )


async def delete(conn: Conn, tenant_id: str, benchmark_id: str) -> None:
    """Delete a benchmark and its cases (its suite runs and results stay, as history)."""
    await conn.execute(
        benchmark_cases.delete().where(
            benchmark_cases.c.tenant_id == tenant_id,
            benchmark_cases.c.benchmark_id == benchmark_id,
        )
    )
    await conn.execute(
        benchmarks.delete().where(
            benchmarks.c.tenant_id == tenant_id, benchmarks.c.id == benchmark_id
        )
    )


async def case_counts(conn: Conn, tenant_id: str, ids: Sequence[str]) -> dict[str, int]:
    """How many cases each benchmark has."""
    if not ids:
        return {}
    stmt = (
        sa.select(benchmark_cases.c.benchmark_id, sa.func.count())
        .where(
            benchmark_cases.c.tenant_id == tenant_id,
            benchmark_cases.c.benchmark_id.in_(list(ids)),
        )
        .group_by(benchmark_cases.c.benchmark_id)
    )
    return {str(r[0]): int(r[1]) for r in (await conn.execute(stmt)).all()}


async def agent_names(conn: Conn, tenant_id: str, ids: Sequence[str]) -> dict[str, str]:
    """The names of the tenant's agents with these ids."""
    if not ids:
        return {}
    stmt = sa.select(agents.c.id, agents.c.name).where(
        agents.c.tenant_id == tenant_id, agents.c.id.in_(list(set(ids)))
    )
    return {str(r[0]): str(r[1]) for r in (await conn.execute(stmt)).all()}


# -- cases -------------------------------------------------------------------------------


async def insert_case(conn: Conn, row: BenchmarkCaseRecord) -> None:
    """Store a new case."""
    await conn.execute(benchmark_cases.insert().values(**row))


async def get_case(
    conn: Conn, tenant_id: str, benchmark_id: str, case_id: str
) -> BenchmarkCaseRecord | None:
    """One case of a benchmark."""
    stmt = sa.select(benchmark_cases).where(
        benchmark_cases.c.tenant_id == tenant_id,
        benchmark_cases.c.benchmark_id == benchmark_id,
        benchmark_cases.c.id == case_id,
    )
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else cast(BenchmarkCaseRecord, dict(row))


async def cases_page(
    conn: Conn,
    tenant_id: str,
    benchmark_id: str,
    *,
    limit: int,
    after: tuple[datetime, str] | None,
) -> list[BenchmarkCaseRecord]:
    """A benchmark's cases newest first, keyset-paged."""
    stmt = sa.select(benchmark_cases).where(
        benchmark_cases.c.tenant_id == tenant_id, benchmark_cases.c.benchmark_id == benchmark_id
    )
    stmt = newest_first(stmt, benchmark_cases.c.created_at, benchmark_cases.c.id, after, limit)
    rows = (await conn.execute(stmt)).mappings().all()
    return [cast(BenchmarkCaseRecord, dict(r)) for r in rows]


async def all_cases(conn: Conn, tenant_id: str, benchmark_id: str) -> list[BenchmarkCaseRecord]:
    """Every case of a benchmark, oldest first (the order a suite runs them in)."""
    stmt = (
        sa.select(benchmark_cases)
        .where(
            benchmark_cases.c.tenant_id == tenant_id,
            benchmark_cases.c.benchmark_id == benchmark_id,
        )
        .order_by(benchmark_cases.c.created_at, benchmark_cases.c.id)
    )
    rows = (await conn.execute(stmt)).mappings().all()
    return [cast(BenchmarkCaseRecord, dict(r)) for r in rows]


async def delete_case(conn: Conn, tenant_id: str, benchmark_id: str, case_id: str) -> bool:
    """Delete one case; False if there was none."""
    res = await conn.execute(
        benchmark_cases.delete().where(
            benchmark_cases.c.tenant_id == tenant_id,
            benchmark_cases.c.benchmark_id == benchmark_id,
            benchmark_cases.c.id == case_id,
        )
    )
    return bool(res.rowcount)


async def all_with_completion(conn: Conn) -> list[BenchmarkRecord]:
    """Every tenant's benchmarks that score finished production runs (few)."""
    stmt = sa.select(benchmarks).where(benchmarks.c.on_completion.is_not(None))
    rows = [cast(BenchmarkRecord, dict(r)) for r in (await conn.execute(stmt)).mappings().all()]
    return [r for r in rows if isinstance(r["on_completion"], dict)]
