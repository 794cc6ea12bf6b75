"""Replay gates: an agent's gate benchmark, the runs a gate replays, a revision's gate runs."""

from collections.abc import Sequence
from typing import cast

import sqlalchemy as sa

from runplane.domain.models import BenchmarkRecord, BenchmarkSuiteRecord, RunRecord
from runplane.store.db import Conn
from runplane.store.runs import as_run
from runplane.store.schema import benchmark_suites, benchmarks, runs

REPLAY = "replay"
# Runs a suite started: never replayed as if they were production's.
SUITE_TRIGGER = "benchmark"


async def gate_benchmark(conn: Conn, tenant_id: str, agent_id: str) -> BenchmarkRecord | None:
    """The agent's benchmark that has a gate (the oldest, if several do)."""
    stmt = (
        sa.select(benchmarks)
        .where(
            benchmarks.c.tenant_id == tenant_id,
            benchmarks.c.agent_id == agent_id,
            benchmarks.c.gate.is_not(None),
            # A JSON null is not SQL NULL on every database.
            sa.cast(benchmarks.c.gate, sa.String) != "null",
        )
        .order_by(benchmarks.c.created_at, benchmarks.c.id)
        .limit(1)
    )
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else cast(BenchmarkRecord, dict(row))


async def runs_to_replay(
    conn: Conn, tenant_id: str, agent_id: str, revision_id: str, limit: int
) -> list[RunRecord]:
    """The agent's latest succeeded production runs of other revisions, newest first."""
    stmt = (
        sa.select(runs)
        .where(
            runs.c.tenant_id == tenant_id,
            runs.c.agent_id == agent_id,
            runs.c.status == "succeeded",
            runs.c.trigger != SUITE_TRIGGER,
            runs.c.replay_of.is_(None),
            runs.c.revision_id != revision_id,
        )
        .order_by(runs.c.created_at.desc(), runs.c.id.desc())
        .limit(limit)
    )
    return [as_run(r) for r in (await conn.execute(stmt)).mappings().all()]


async def gate_suites(
    conn: Conn,
    tenant_id: str,
    agent_id: str,
    revision_id: str,
    benchmark_id: str | None = None,
    statuses: Sequence[str] | None = None,
) -> list[BenchmarkSuiteRecord]:
    """A revision's replay suites, newest first (of one benchmark, in some statuses)."""
    stmt = sa.select(benchmark_suites).where(
        benchmark_suites.c.tenant_id == tenant_id,
        benchmark_suites.c.agent_id == agent_id,
        benchmark_suites.c.revision_id == revision_id,
        benchmark_suites.c.kind == REPLAY,
    )
    if benchmark_id is not None:
        stmt = stmt.where(benchmark_suites.c.benchmark_id == benchmark_id)
    if statuses is not None:
        stmt = stmt.where(benchmark_suites.c.status.in_(statuses))
    stmt = stmt.order_by(benchmark_suites.c.created_at.desc(), benchmark_suites.c.id.desc())
    rows = (await conn.execute(stmt.limit(20))).mappings().all()
    return [cast(BenchmarkSuiteRecord, dict(r)) for r in rows]
