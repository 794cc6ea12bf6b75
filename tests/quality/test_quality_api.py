"""The quality figures at /v1: known scored results in, pass rates, percentiles and A/B out."""

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from quality_rows import T0, add, add_benchmark, result, set_split, tenant_id

from runplane.services.quality import percentile
from runplane.services.runtime import Runtime

RANGE = {"since": "2026-03-01T00:00:00Z", "until": "2026-03-10T00:00:00Z"}


async def tenant_and_echo(
    rt: Runtime, make_client: Callable[..., Any]
) -> tuple[str, str, httpx.AsyncClient]:
    """A fresh tenant's id, its ``echo`` agent's id, and an admin client of it."""
    name = f"t-q-{uuid.uuid4().hex[:8]}"
    api: httpx.AsyncClient = await make_client(tenant=name)
    r = await api.get("/v1/agents/echo")
    assert r.status_code == 200, r.text
    return await tenant_id(rt, name), r.json()["id"], api


async def test_an_agents_figures_sum_its_scored_results_by_day_and_revision(
    rt: Runtime, make_client: Callable[..., Any]
) -> None:
    tenant, agent, api = await tenant_and_echo(rt, make_client)
    day2 = T0 + timedelta(days=1)
    await add(
        rt,
        [
            result(
                tenant,
                agent,
                "rev_a",
                T0,
                passed=True,
                latency_ms=100,
                scorers={"exact": True, "fast": True},
            ),
            result(
                tenant,
                agent,
                "rev_a",
                T0 + timedelta(hours=1),
                passed=False,
                latency_ms=200,
                scorers={"exact": False, "fast": True},
            ),
            result(tenant, agent, "rev_b", day2, passed=True, latency_ms=300, credits=3.0),
            result(tenant, agent, "rev_b", day2, passed=True, latency_ms=500, credits=5.0),
            # Not scored: no verdict, not counted.
            result(tenant, agent, "rev_b", day2, passed=False, latency_ms=9, status="error"),
        ],
    )
    r = await api.get("/v1/agents/echo/quality", params=RANGE)
    assert r.status_code == 200, r.text
    q = r.json()
    assert q["agent_id"] == agent and q["bucket"] == "day" and q["ab"] is None
    overall = q["overall"]
    assert overall["count"] == 4 and overall["pass_rate"] == 0.75
    assert overall["latency_p50_ms"] == 200.0 and overall["latency_p95_ms"] == 500.0
    assert overall["total_credits"] == 10.0 and overall["mean_credits"] == 2.5
    assert overall["scorers"]["exact"] == {"pass_rate": 0.75, "mean": 0.75, "count": 4}
    assert overall["scorers"]["fast"] == {"pass_rate": 1.0, "mean": 1.0, "count": 2}

    days = q["over_time"]
    assert [d["start"][:10] for d in days] == ["2026-03-02", "2026-03-03"]
    assert [d["pass_rate"] for d in days] == [0.5, 1.0]
    revs = {f["revision_id"]: f for f in q["per_revision"]}
    assert [f["revision_id"] for f in q["per_revision"]] == ["rev_a", "rev_b"]
    assert revs["rev_a"]["latency_p50_ms"] == 100.0 and revs["rev_b"]["mean_credits"] == 4.0

    hours = (await api.get("/v1/agents/echo/quality", params={**RANGE, "bucket": "hour"})).json()
    assert [h["start"][:13] for h in hours["over_time"]] == [
        "2026-03-02T09",
        "2026-03-02T10",
        "2026-03-03T09",
    ]


async def test_the_benchmark_dashboard_holds_only_its_results_and_filters_by_kind(
    rt: Runtime, make_client: Callable[..., Any]
) -> None:
    tenant, agent, api = await tenant_and_echo(rt, make_client)
    bench = await add_benchmark(rt, tenant, agent)
    other = await add_benchmark(rt, tenant, agent, "other")
    await add(
        rt,
        [
            result(tenant, agent, "rev_a", T0, passed=True, latency_ms=10, benchmark_id=bench),
            result(
                tenant,
                agent,
                "rev_a",
                T0,
                passed=False,
                latency_ms=10,
                benchmark_id=bench,
                kind="completion",
            ),
            result(tenant, agent, "rev_a", T0, passed=False, latency_ms=10, benchmark_id=other),
        ],
    )
    mine = (await api.get(f"/v1/benchmarks/{bench}/dashboard", params=RANGE)).json()
    assert mine["benchmark_id"] == bench and mine["overall"]["count"] == 2
    suites = (
        await api.get(f"/v1/benchmarks/{bench}/dashboard", params={**RANGE, "kind": "suite"})
    ).json()
    assert suites["overall"]["count"] == 1 and suites["overall"]["pass_rate"] == 1.0
    everything = (await api.get("/v1/agents/echo/quality", params=RANGE)).json()
    assert everything["overall"]["count"] == 3

    # Another tenant sees neither the benchmark nor the agent's figures.
    stranger: httpx.AsyncClient = await make_client()
    r = await stranger.get(f"/v1/benchmarks/{bench}/dashboard")
    assert r.status_code == 404 and r.json()["details"][0]["name"] == "benchmark_id"
    theirs = (await stranger.get("/v1/agents/echo/quality", params=RANGE)).json()
    assert theirs["overall"]["count"] == 0 and theirs["overall"]["pass_rate"] is None


async def test_a_split_shows_both_revisions_since_it_started(
    rt: Runtime, make_client: Callable[..., Any]
) -> None:
    tenant, agent, api = await tenant_and_echo(rt, make_client)
    started = T0 + timedelta(hours=2)
    await add(
        rt,
        [
            result(tenant, agent, "rev_a", T0, passed=False, latency_ms=1),  # before the split
            result(tenant, agent, "rev_a", started, passed=True, latency_ms=100),
            result(tenant, agent, "rev_b", started, passed=False, latency_ms=300, credits=2.0),
            result(tenant, agent, "rev_c", started, passed=True, latency_ms=5),  # not in the split
        ],
    )
    split = {
        "revision_a": "rev_a",
        "revision_b": "rev_b",
        "percent_b": 20,
        "started_at": started.isoformat(),
    }
    await set_split(rt, tenant, agent, split)
    ab = (await api.get("/v1/agents/echo/quality", params=RANGE)).json()["ab"]
    assert (ab["revision_a"], ab["revision_b"], ab["percent_b"]) == ("rev_a", "rev_b", 20.0)
    assert ab["a"]["count"] == 1 and ab["a"]["pass_rate"] == 1.0
    assert ab["b"]["count"] == 1 and ab["b"]["pass_rate"] == 0.0 and ab["b"]["mean_credits"] == 2.0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bucket": "week"}, "bucket"),
        ({"kind": "nightly"}, "kind"),
        ({"since": "2026-03-05T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "since"),
        ({"since": "not a time"}, "since"),
    ],
)
async def test_bad_parameters_are_a_422_naming_the_field(
    api: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    r = await api.get("/v1/agents/echo/quality", params=params)
    assert r.status_code == 422, r.text
    body = r.json()
    assert set(body) == {"status_code", "message", "details"}
    assert field in [d["name"] for d in body["details"]] or field in body["message"]


async def test_an_unknown_agent_is_a_404(api: httpx.AsyncClient) -> None:
    r = await api.get("/v1/agents/nobody/quality")
    assert r.status_code == 404 and r.json()["details"][0]["name"] == "agent_id"


@pytest.mark.database_independent
def test_percentiles_are_nearest_rank_as_in_suite_summaries() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([100, 200, 300, 500], 0.5) == 200.0
    assert percentile([100, 200, 300, 500], 0.95) == 500.0
    assert percentile([float(n) for n in range(1, 101)], 0.95) == 95.0
