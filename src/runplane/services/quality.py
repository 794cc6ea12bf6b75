"""Quality figures: an agent's (or one benchmark's) scored runs over time, per revision, A/B.

The rows come from ``benchmark_results`` (scored only: pending and errored rows have no
verdict); the sums are made here, in one pass, because per-scorer rates live in a JSON
list and percentiles have no portable SQL. A dashboard reads at most
``store.quality.MAX_ROWS`` runs (the newest of the range).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from runplane.domain.errors import Invalid
from runplane.domain.holds import aware
from runplane.domain.json import JSONObject
from runplane.domain.models import AgentRecord, BenchmarkRecord, Principal, iso, utcnow
from runplane.domain.roles import Permission
from runplane.domain.scoring import percentile
from runplane.services import agents as agents_svc
from runplane.services import benchmarks as benchmarks_svc
from runplane.services.runtime import Runtime
from runplane.store import benchmarks as benchmarks_store
from runplane.store import quality as store
from runplane.store.db import Conn

BUCKETS = ("hour", "day")
KINDS = ("suite", "replay", "completion", "manual")
DEFAULT_DAYS = 30

ScoredRow = Mapping[str, Any]


@dataclass(frozen=True)
class Window:
    """What a dashboard shows: a time range, its bucket size, and a kind of result."""

    since: datetime
    until: datetime
    bucket: str = "day"
    kind: str | None = None


def window(
    since: datetime | None, until: datetime | None, bucket: str = "day", kind: str | None = None
) -> Window:
    """A checked window (422 on a bad bucket or kind, or since after until); default 30 days."""
    if bucket not in BUCKETS:
        raise Invalid(
            f"bucket must be one of {', '.join(BUCKETS)}", [{"name": "bucket", "value": bucket}]
        )
    if kind is not None and kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}", [{"name": "kind", "value": kind}])
    end = aware(until) or utcnow()
    start = aware(since) or end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise Invalid("since must be before until", [{"name": "since", "value": start.isoformat()}])
    return Window(start, end, bucket, kind)


def figures(rows: Iterable[ScoredRow]) -> JSONObject:
    """Pass rate, mean score, latency p50/p95, credits and per-scorer rates of scored runs."""
    count = passed = 0
    scores: list[float] = []
    latencies: list[float] = []
    credits: list[float] = []
    verdicts: dict[str, list[tuple[bool, float]]] = {}
    for row in rows:
        count += 1
        passed += row["passed"] is True
        if row["score"] is not None:
            scores.append(float(row["score"]))
        if row["latency_ms"] is not None:
            latencies.append(float(row["latency_ms"]))
        if row["credits"] is not None:
            credits.append(float(row["credits"]))
        for v in row["scores"] or []:
            if isinstance(v, dict) and isinstance(v.get("scorer"), str):
                s = v.get("score")
                value = float(s) if isinstance(s, int | float) and not isinstance(s, bool) else 0.0
                verdicts.setdefault(v["scorer"], []).append((v.get("passed") is True, value))
    return {
        "count": count,
        "pass_rate": _r(passed / count) if count else None,
        "mean_score": _r(sum(scores) / len(scores)) if scores else None,
        "latency_p50_ms": _r(percentile(latencies, 0.5)),
        "latency_p95_ms": _r(percentile(latencies, 0.95)),
        "mean_credits": _r(sum(credits) / len(credits)) if credits else None,
        "total_credits": _r(sum(credits)) or 0.0,
        "scorers": {
            name: {
                "pass_rate": _r(sum(p for p, _ in vs) / len(vs)),
                "mean": _r(sum(s for _, s in vs) / len(vs)),
                "count": len(vs),
            }
            for name, vs in sorted(verdicts.items())
        },
    }


def bucket_start(at: datetime, size: str) -> datetime:
    """The start (UTC) of the hour or day ``at`` falls in."""
    at = (aware(at) or at).astimezone(UTC)
    at = at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0) if size == "day" else at


def over_time(rows: Iterable[ScoredRow], size: str) -> list[JSONObject]:
    """The figures of each hour or day that has scored runs, oldest first."""
    groups: dict[datetime, list[ScoredRow]] = {}
    for row in rows:
        groups.setdefault(bucket_start(row["created_at"], size), []).append(row)
    return [{"start": iso(start), **figures(rs)} for start, rs in sorted(groups.items())]


def per_revision(rows: Iterable[ScoredRow]) -> list[JSONObject]:
    """The figures of each revision, the one first scored first."""
    groups: dict[str, list[ScoredRow]] = {}
    for row in rows:
        groups.setdefault(row["revision_id"], []).append(row)
    out = [
        {
            "revision_id": rev,
            "first_at": iso(rs[0]["created_at"]),
            "last_at": iso(rs[-1]["created_at"]),
            **figures(rs),
        }
        for rev, rs in groups.items()
    ]
    return sorted(out, key=lambda f: str(f["first_at"]))


def summary(
    agent: AgentRecord,
    benchmark_id: str | None,
    w: Window,
    rows: Sequence[ScoredRow],
    ab: JSONObject | None,
) -> JSONObject:
    """The whole dashboard of these rows."""
    return {
        "agent_id": agent["id"],
        "benchmark_id": benchmark_id,
        "since": iso(w.since),
        "until": iso(w.until),
        "bucket": w.bucket,
        "kind": w.kind,
        "overall": figures(rows),
        "over_time": list(over_time(rows, w.bucket)),
        "per_revision": list(per_revision(rows)),
        "ab": ab,
    }


async def agent_quality(rt: Runtime, who: Principal, agent_ref: str, w: Window) -> JSONObject:
    """An agent's figures over all its benchmarks and scored runs."""
    who.require(Permission.READ)
    agent = await agents_svc.find_agent(rt, who, agent_ref)
    return await _dashboard(rt, agent, None, w)


async def benchmark_dashboard(
    rt: Runtime, who: Principal, benchmark_id: str, w: Window
) -> JSONObject:
    """One benchmark's figures."""
    bench = await benchmarks_svc.find_benchmark(rt, who, benchmark_id)
    agent = await agents_svc.find_agent(rt, who, bench["agent_id"])
    return await _dashboard(rt, agent, benchmark_id, w)


async def agent_benchmarks(rt: Runtime, who: Principal, agent_id: str) -> list[BenchmarkRecord]:
    """The agent's benchmarks, by name (the quality page links them)."""
    who.require(Permission.READ)
    async with rt.db.read() as conn:
        rows = await benchmarks_store.list_page(
            conn, who.tenant_id, agent_id=agent_id, limit=100, after=None
        )
    return sorted(rows, key=lambda b: b["name"])


async def _dashboard(
    rt: Runtime, agent: AgentRecord, benchmark_id: str | None, w: Window
) -> JSONObject:
    tenant = agent["tenant_id"]
    async with rt.db.read() as conn:
        rows = await store.scored(
            conn, tenant, agent["id"], w.since, w.until, benchmark_id=benchmark_id, kind=w.kind
        )
        ab = await _ab(conn, agent, benchmark_id, w)
    return summary(agent, benchmark_id, w, rows, ab)


async def _ab(
    conn: Conn, agent: AgentRecord, benchmark_id: str | None, w: Window
) -> JSONObject | None:
    """Both revisions of the agent's split side by side, since the split started (None: no split)."""
    split = agent.get("split")
    if not isinstance(split, dict):
        return None
    a, b = split.get("revision_a"), split.get("revision_b")
    if not isinstance(a, str) or not isinstance(b, str):
        return None
    started = _when(split.get("started_at"))
    since = max(started, w.since) if started is not None else w.since
    rows = await store.scored(
        conn,
        agent["tenant_id"],
        agent["id"],
        since,
        w.until,
        benchmark_id=benchmark_id,
        kind=w.kind,
        revisions=[a, b],
    )
    percent = split.get("percent_b")
    return {
        "revision_a": a,
        "revision_b": b,
        "percent_b": float(percent) if isinstance(percent, int | float) else 0.0,
        "started_at": iso(started) if started is not None else None,
        "a": figures(r for r in rows if r["revision_id"] == a),
        "b": figures(r for r in rows if r["revision_id"] == b),
    }


def _when(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return aware(value)
    if isinstance(value, str):
        try:
            return aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
