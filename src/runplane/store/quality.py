"""The scored rows of ``benchmark_results`` that the quality figures are summed from."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from runplane.domain.models import BenchmarkResultRecord
from runplane.store.db import Conn
from runplane.store.schema import benchmark_results

# A dashboard sums at most this many runs (the newest); more is a range to narrow.
MAX_ROWS = 50_000

ScoredRow = dict[str, Any]


async def scored(
    conn: Conn,
    tenant_id: str,
    agent_id: str,
    since: datetime,
    until: datetime,
    *,
    benchmark_id: str | None = None,
    kind: str | None = None,
    revisions: Sequence[str] | None = None,
) -> list[ScoredRow]:
    """The agent's scored results created in ``[since, until)``, oldest first."""
    r = benchmark_results.c
    conds = [
        r.tenant_id == tenant_id,
        r.agent_id == agent_id,
        r.created_at >= since,
        r.created_at < until,
        r.status == "scored",
    ]
    if benchmark_id is not None:
        conds.append(r.benchmark_id == benchmark_id)
    if kind is not None:
        conds.append(r.kind == kind)
    if revisions is not None:
        conds.append(r.revision_id.in_(list(revisions)))
    newest = (
        sa.select(r.revision_id, r.created_at, r.passed, r.score, r.latency_ms, r.credits, r.scores)
        .where(*conds)
        .order_by(r.created_at.desc(), r.id.desc())
        .limit(MAX_ROWS)
    )
    rows = [dict(m) for m in (await conn.execute(newest)).mappings().all()]
    rows.reverse()
    return rows


async def add_results(conn: Conn, rows: Sequence[BenchmarkResultRecord]) -> None:
    """Store scored results as they are (imports of figures, and tests of the figures)."""
    if rows:
        await conn.execute(benchmark_results.insert(), [dict(r) for r in rows])
