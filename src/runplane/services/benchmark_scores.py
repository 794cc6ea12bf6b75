"""Scores of single runs: a benchmark's scorers applied by hand, or to a sampled share of
an agent's finished production runs (``on_completion``).

A manual or completion score has no case, so its reference is None: the scorers that
compare with a reference (``exact``, ``json_fields``, ``contains`` without ``text``,
``numeric`` without ``expected``) fail it; the reference-free ones (``json_schema``,
``regex``, ``contains`` with ``text``, ``citation``, ``latency``, ``credits``,
``python``, ``llm_judge``) judge it meaningfully.

Completion sampling costs a run nothing: no hook runs when a run ends. A background loop
(``sample_completions``) looks, per benchmark with ``on_completion``, for the agent's
runs that ended since it last looked and have no result of that benchmark; a run is in
the sample when a hash of its id falls under the percentage (the same answer in every
process), and its result's id is derived from the run and benchmark, so two processes
looking at once write it once. Looking again after a restart starts
``COMPLETION_LOOKBACK`` back, so a run that ended while no process looked is still seen.
"""

import hashlib
import logging
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from runplane.domain.errors import Conflict, Invalid
from runplane.domain.ids import new_id
from runplane.domain.json import JSONObject
from runplane.domain.lifecycle import TERMINAL
from runplane.domain.models import (
    BenchmarkRecord,
    BenchmarkResultRecord,
    Principal,
    RunRecord,
    utcnow,
)
from runplane.domain.roles import Permission
from runplane.services import audit
from runplane.services import runs as runs_svc
from runplane.services.benchmarks import find_benchmark
from runplane.services.runtime import Runtime
from runplane.services.scoring import mean_score, run_facts, score_run
from runplane.store import benchmark_runs as runs_store
from runplane.store import benchmarks as store
from runplane.store import runs as run_rows
from runplane.store.runs import decode_token, page_of

log = logging.getLogger("runplane.benchmarks")
_TERMINAL = {str(s) for s in TERMINAL}
COMPLETION_LOOKBACK = timedelta(hours=1)
COMPLETION_PAGE = 200


def _pending(
    run: RunRecord, benchmark: BenchmarkRecord, kind: str, result_id: str
) -> BenchmarkResultRecord:
    return {
        "id": result_id,
        "tenant_id": run["tenant_id"],
        "agent_id": run["agent_id"],
        "revision_id": run["revision_id"],
        "benchmark_id": benchmark["id"],
        "suite_id": None,
        "case_id": None,
        "run_id": run["id"],
        "reference_run_id": None,
        "kind": kind,
        "status": "pending",
        "scores": None,
        "passed": None,
        "score": None,
        "latency_ms": None,
        "credits": None,
        "diff": None,
        "divergences": None,
        "created_at": utcnow(),
        "scored_at": None,
        "item": None,
    }


async def _scored(
    rt: Runtime, run: RunRecord, benchmark: BenchmarkRecord, row: BenchmarkResultRecord
) -> BenchmarkResultRecord:
    """The result row with the benchmark's scorers' verdicts on the run (no reference)."""
    verdicts = await score_run(rt, run["tenant_id"], benchmark["scorers"], run, None)
    facts = run_facts(run, None)
    return {
        **row,
        "status": "scored",
        "scores": [v.as_json() for v in verdicts],
        "passed": all(v.passed for v in verdicts),
        "score": mean_score(verdicts),
        "latency_ms": facts.latency_ms,
        "credits": run["credits_actual"],
        "scored_at": utcnow(),
    }


async def score_manually(
    rt: Runtime, who: Principal, run_id: str, benchmark_id: str
) -> BenchmarkResultRecord:
    """Apply a benchmark's scorers to an ended run of its agent (audited); the result."""
    who.require(Permission.CREATE_RUNS)
    benchmark = await find_benchmark(rt, who, benchmark_id)
    run = await runs_svc.get_run(rt, who, run_id)
    if run["agent_id"] != benchmark["agent_id"]:
        raise Invalid.field(
            "benchmark_id", f"benchmark {benchmark_id} is not of run {run_id}'s agent", benchmark_id
        )
    if run["status"] not in _TERMINAL:
        raise Conflict(
            f"run {run_id} is {run['status']}: score it once it has ended",
            [{"name": "status", "value": run["status"]}],
        )
    row = await _scored(rt, run, benchmark, _pending(run, benchmark, "manual", new_id("bre")))
    async with rt.db.write() as conn:
        await runs_store.insert_results(conn, [row])
        noted: JSONObject = {
            "benchmark_id": benchmark_id,
            "result_id": row["id"],
            "passed": row["passed"],
        }
        await audit.record(conn, who, "run.scored", "run", run_id, noted)
    return row


async def scores_of_run(
    rt: Runtime, who: Principal, run_id: str, limit: int, token: str | None
) -> tuple[list[BenchmarkResultRecord], str | None]:
    """A page of a run's scored results (suite, replay, completion and manual), newest first."""
    who.require(Permission.READ)
    await runs_svc.get_run(rt, who, run_id)
    after = decode_token(token) if token else None
    async with rt.db.read() as conn:
        rows = await runs_store.results_page(
            conn, who.tenant_id, run_id=run_id, limit=limit, after=after
        )
    return page_of(rows, limit)


def sampled(run_id: str, benchmark_id: str, percent: float) -> bool:
    """Whether a run is in a benchmark's completion sample (the same in every process)."""
    digest = hashlib.sha256(f"{benchmark_id}:{run_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 10_000 < round(percent * 100)


def completion_result_id(run_id: str, benchmark_id: str) -> str:
    """The id of a run's completion result under a benchmark: one, whoever writes it."""
    digest = hashlib.sha256(f"completion:{benchmark_id}:{run_id}".encode()).hexdigest()
    return f"bre_c{digest[:25]}"


class CompletionSampler:
    """Scores the sampled share of agents' finished production runs (one per process)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.since: dict[str, datetime] = {}  # per benchmark: the last end it looked at

    async def sample(self) -> int:
        """One round over every benchmark with ``on_completion``; how many runs it scored."""
        async with self.rt.db.read() as conn:
            benchmarks = await store.all_with_completion(conn)
        scored = 0
        for bench in benchmarks:
            scored += await self._sample(bench)
        return scored

    async def _sample(self, bench: BenchmarkRecord) -> int:
        rules = bench["on_completion"] or {}
        percent = rules.get("sample_percent", 100.0)
        percent = float(percent) if isinstance(percent, int | float) else 100.0
        since = self.since.get(bench["id"]) or max(
            bench["created_at"], utcnow() - COMPLETION_LOOKBACK
        )
        async with self.rt.db.read() as conn:
            ended = await runs_store.unscored_production_runs(
                conn,
                bench["tenant_id"],
                bench["agent_id"],
                bench["id"],
                created_after=bench["created_at"],
                finished_after=since,
                limit=COMPLETION_PAGE,
            )
        count = 0
        for run_id, _, _ in ended:
            if percent <= 0 or not sampled(run_id, bench["id"], percent):
                continue
            async with self.rt.db.read() as conn:
                run = await run_rows.get_run(conn, bench["tenant_id"], run_id)
            if run is None:
                continue
            pending = _pending(run, bench, "completion", completion_result_id(run_id, bench["id"]))
            row = await _scored(self.rt, run, bench, pending)
            try:
                async with self.rt.db.write() as conn:
                    await runs_store.insert_results(conn, [row])
            except IntegrityError:
                continue  # another process scored it at the same moment
            count += 1
        # Moved on only once this page is written: a failed round looks at it again.
        self.since[bench["id"]] = ended[-1][2] if ended else since
        return count
