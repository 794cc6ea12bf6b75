"""Scored results with known values, written straight to ``benchmark_results`` for figure tests."""

from datetime import UTC, datetime

import sqlalchemy as sa

from runplane.domain.ids import new_id
from runplane.domain.json import JSONObject
from runplane.domain.models import BenchmarkResultRecord
from runplane.services.runtime import Runtime
from runplane.store import quality as store
from runplane.store import tenants
from runplane.store.schema import agents, benchmarks

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def result(
    tenant: str,
    agent_id: str,
    revision: str,
    at: datetime,
    *,
    passed: bool,
    latency_ms: float,
    credits: float = 1.0,
    benchmark_id: str | None = None,
    kind: str = "suite",
    status: str = "scored",
    scorers: dict[str, bool] | None = None,
) -> BenchmarkResultRecord:
    """One result whose scorers passed as ``scorers`` says (default: one ``exact``)."""
    verdicts: list[JSONObject] = [
        {"scorer": name, "type": name, "passed": ok, "score": 1.0 if ok else 0.0, "reason": ""}
        for name, ok in (scorers or {"exact": passed}).items()
    ]
    return {
        "id": new_id("bre"),
        "tenant_id": tenant,
        "agent_id": agent_id,
        "revision_id": revision,
        "benchmark_id": benchmark_id,
        "suite_id": None,
        "case_id": None,
        "run_id": None,
        "reference_run_id": None,
        "kind": kind,
        "status": status,
        "scores": verdicts,  # type: ignore[typeddict-item]
        "passed": passed,
        "score": 1.0 if passed else 0.0,
        "latency_ms": latency_ms,
        "credits": credits,
        "diff": None,
        "divergences": None,
        "created_at": at,
        "scored_at": at,
    }


async def add(rt: Runtime, rows: list[BenchmarkResultRecord]) -> None:
    """Write the results in one transaction."""
    async with rt.db.write() as conn:
        await store.add_results(conn, rows)


async def add_benchmark(rt: Runtime, tenant: str, agent_id: str, name: str = "smoke") -> str:
    """A benchmark row of the agent (the figures need only its id and agent)."""
    bench_id = new_id("bch")
    async with rt.db.write() as conn:
        await conn.execute(
            benchmarks.insert().values(
                id=bench_id,
                tenant_id=tenant,
                agent_id=agent_id,
                name=name,
                description=None,
                scorers=[{"type": "exact"}],
                on_completion=None,
                gate=None,
                created_at=T0,
                updated_at=T0,
            )
        )
    return bench_id


async def set_split(rt: Runtime, tenant: str, agent_id: str, split: JSONObject) -> None:
    """Put the agent on an A/B split (as helper B's split endpoint stores it)."""
    async with rt.db.write() as conn:
        await conn.execute(
            sa.update(agents)
            .where(agents.c.tenant_id == tenant, agents.c.id == agent_id)
            .values(split=split)
        )


async def tenant_id(rt: Runtime, name: str) -> str:
    """The id of the tenant a test's keys were made for (by name)."""
    async with rt.db.read() as conn:
        row = await tenants.get_tenant_by_name(conn, name)
    assert row is not None
    return row["id"]
