"""Suite runs: a group of runplane runs of one revision, scored together.

``start_suite`` writes the suite row and one ``pending`` result per item in one
transaction, then a driver task in this process keeps at most ``concurrency`` runs of
the items going. Each run is created with an idempotency key derived from its result's
id, so a driver that resumes a suite (after its process died: ``resume_orphaned``)
never starts a case twice: it finds the run already made and only waits for it.

Used for benchmark suites (``services/benchmarks.py``) and for replay gates, whose items
name the recorded run they replay (``replay_of``).
"""

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from runplane.domain.errors import Conflict, NotFound, RunplaneError
from runplane.domain.ids import new_id
from runplane.domain.json import JSON, JSONObject
from runplane.domain.lifecycle import TERMINAL
from runplane.domain.models import (
    AgentRecord,
    BenchmarkResultRecord,
    BenchmarkSuiteRecord,
    Principal,
    RunRecord,
    utcnow,
)
from runplane.domain.roles import Permission
from runplane.domain.scoring import diff, failed_thresholds, pass_rates, percentile, scorer_name
from runplane.schemas import RunCreate
from runplane.services import audit, replays
from runplane.services import runs as runs_svc
from runplane.services.runtime import Runtime
from runplane.services.scoring import mean_score, run_facts, score_run
from runplane.store import benchmark_runs as store
from runplane.store import executors as executors_store

log = logging.getLogger("runplane.suites")
_TERMINAL = {str(s) for s in TERMINAL}
# How long one wait for a case's run lasts before the driver looks at its suite again.
WAIT_SLICE_SECONDS = 10.0
SUITE_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class SuiteItem:
    """One case of a suite: what to run, and what its output is compared with."""

    name: str
    input: JSON
    variables: JSONObject
    reference: JSON
    case_id: str | None = None
    file_ids: list[str] | None = None
    replay_of: str | None = None

    def as_json(self) -> JSONObject:
        """The item as kept on its result row (``benchmark_results.item``)."""
        return {
            "name": self.name,
            "input": self.input,
            "variables": self.variables,
            "reference": self.reference,
            "file_ids": list(self.file_ids) if self.file_ids is not None else None,
            "replay_of": self.replay_of,
        }


def item_of(result: BenchmarkResultRecord) -> SuiteItem:
    """The item a result row ran."""
    data = result.get("item") or {}
    variables = data.get("variables")
    file_ids = data.get("file_ids")
    replay_of = data.get("replay_of")
    return SuiteItem(
        name=str(data.get("name") or result["case_id"] or result["id"]),
        input=data.get("input"),
        variables=variables if isinstance(variables, dict) else {},
        reference=data.get("reference"),
        case_id=result["case_id"],
        file_ids=[str(f) for f in file_ids] if isinstance(file_ids, list) else None,
        replay_of=replay_of if isinstance(replay_of, str) else None,
    )


async def start_suite(
    rt: Runtime,
    who: Principal,
    *,
    agent: AgentRecord,
    revision_id: str,
    kind: str,
    benchmark_id: str | None,
    items: Sequence[SuiteItem],
    scorers: list[JSONObject],
    thresholds: Mapping[str, float],
    concurrency: int,
    action: str = "benchmark.suite_started",
) -> BenchmarkSuiteRecord:
    """Record a suite run and its pending results (audited as ``action``); drive it here."""
    who.require(Permission.CREATE_RUNS)
    now = utcnow()
    suite: BenchmarkSuiteRecord = {
        "id": new_id("bsu"),
        "tenant_id": who.tenant_id,
        "agent_id": agent["id"],
        "revision_id": revision_id,
        "benchmark_id": benchmark_id,
        "kind": kind,
        "status": "running",
        "scorers": scorers,
        "thresholds": dict(thresholds),
        "concurrency": concurrency,
        "case_count": len(items),
        "summary": None,
        "passed": None,
        "owner": rt.engine.executor_id,
        "created_by_key_id": who.key_id,
        "cancel_requested_at": None,
        "created_at": now,
        "finished_at": None,
    }
    results: list[BenchmarkResultRecord] = [
        {
            "id": new_id("bre"),
            "tenant_id": who.tenant_id,
            "agent_id": agent["id"],
            "revision_id": revision_id,
            "benchmark_id": benchmark_id,
            "suite_id": suite["id"],
            "case_id": item.case_id,
            "run_id": None,
            "reference_run_id": item.replay_of,
            "kind": kind,
            "status": "pending",
            "scores": None,
            "passed": None,
            "score": None,
            "latency_ms": None,
            "credits": None,
            "diff": None,
            "divergences": None,
            # Ordered by creation: one microsecond apart keeps the items' order.
            "created_at": now + timedelta(microseconds=i),
            "scored_at": None,
            "item": item.as_json(),
        }
        for i, item in enumerate(items)
    ]
    noted: JSONObject = {
        "agent_id": agent["id"],
        "revision_id": revision_id,
        "benchmark_id": benchmark_id,
        "kind": kind,
        "cases": len(items),
    }
    async with rt.db.write() as conn:
        await store.insert_suite(conn, suite)
        await store.insert_results(conn, results)
        await audit.record(conn, who, action, "benchmark_suite", suite["id"], noted)
    _spawn(rt, who.tenant_id, suite["id"])
    return suite


def _task_name(suite_id: str) -> str:
    return f"suite:{suite_id}"


def _driven_here(rt: Runtime, suite_id: str) -> bool:
    name = _task_name(suite_id)
    return any(t.get_name() == name and not t.done() for t in rt.background_tasks)


def _spawn(rt: Runtime, tenant_id: str, suite_id: str) -> None:
    task = asyncio.create_task(drive(rt, tenant_id, suite_id), name=_task_name(suite_id))
    rt.background_tasks.add(task)
    task.add_done_callback(rt.background_tasks.discard)


async def drive(rt: Runtime, tenant_id: str, suite_id: str) -> None:
    """Run a suite this process owns: start its cases' runs, score them, sum them up."""
    me = rt.engine.executor_id
    async with rt.db.read() as conn:
        suite = await store.get_suite(conn, tenant_id, suite_id)
        results = await store.results_of_suite(conn, tenant_id, suite_id)
    if suite is None or suite["owner"] != me or suite["status"] != "running":
        return
    # The suite's runs act for the key that started it.
    who = Principal(tenant_id, suite["created_by_key_id"] or "system", role="admin", via="system")
    gate = asyncio.Semaphore(max(1, suite["concurrency"]))

    async def one(result: BenchmarkResultRecord) -> None:
        async with gate:
            await _run_case(rt, who, suite, result)

    try:
        await asyncio.gather(*(one(r) for r in results if r["status"] == "pending"))
        await finish(rt, tenant_id, suite_id, me)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("suite %s: its driver failed; another round will resume it", suite_id)


async def _cancel_requested(rt: Runtime, suite: BenchmarkSuiteRecord) -> bool:
    async with rt.db.read() as conn:
        now = await store.get_suite(conn, suite["tenant_id"], suite["id"])
    return now is None or now["cancel_requested_at"] is not None


async def _run_case(
    rt: Runtime, who: Principal, suite: BenchmarkSuiteRecord, result: BenchmarkResultRecord
) -> None:
    """Start (or find) one case's run, wait for it to end, and score it."""
    item = item_of(result)
    run_id = result["run_id"]
    if run_id is None:
        if await _cancel_requested(rt, suite):
            await _error(rt, suite, result, "the suite was cancelled before this case started")
            return
        body = RunCreate(
            agent_id=suite["agent_id"],
            revision_id=suite["revision_id"],
            name=f"{suite['kind']} {suite['id']}: {item.name}"[:500],
            input=item.input,
            variables=item.variables,
            file_ids=item.file_ids,
            trigger="benchmark",
            metadata={"benchmark_suite": suite["id"], "benchmark_result": result["id"]},
        )
        try:
            run = await runs_svc.create_run(
                rt,
                who,
                body,
                idempotency_key=f"suite-result:{result['id']}",
                replay_of=item.replay_of,
            )
        except RunplaneError as exc:
            await _error(rt, suite, result, f"its run could not start: {exc.message}")
            return
        run_id = run["id"]
        async with rt.db.write() as conn:
            await store.update_result(conn, result["id"], {"run_id": run_id})
        if await _cancel_requested(rt, suite) and run["status"] not in _TERMINAL:
            await _cancel_quietly(rt, who, run_id)
    run = await _ended(rt, who, run_id)
    await _score(rt, suite, result, run, item.reference)


async def _ended(rt: Runtime, who: Principal, run_id: str) -> RunRecord:
    """The run once it has ended (its time limit bounds the wait)."""
    while True:
        run = await runs_svc.wait_for_run(rt, who, run_id, WAIT_SLICE_SECONDS)
        if run["status"] in _TERMINAL:
            return run


async def _cancel_quietly(rt: Runtime, who: Principal, run_id: str) -> None:
    try:
        await runs_svc.cancel_run(rt, who, run_id)
    except (Conflict, NotFound):
        pass  # it ended (or went) meanwhile


async def _score(
    rt: Runtime,
    suite: BenchmarkSuiteRecord,
    result: BenchmarkResultRecord,
    run: RunRecord,
    reference: JSON,
) -> None:
    verdicts = await score_run(rt, suite["tenant_id"], suite["scorers"], run, reference)
    facts = run_facts(run, reference)
    values: dict[str, object] = {
        "status": "scored",
        "scores": [v.as_json() for v in verdicts],
        "passed": all(v.passed for v in verdicts),
        "score": mean_score(verdicts),
        "latency_ms": facts.latency_ms,
        "credits": run["credits_actual"],
        "diff": diff(facts.output, reference) if reference is not None else None,
        "scored_at": utcnow(),
    }
    recorded = run.get("replay_of")
    if recorded:
        # A replay: the run it re-enacted, and the tool calls that run never made.
        values["reference_run_id"] = recorded
        values["divergences"] = await replays.divergences(rt, suite["tenant_id"], run["id"])
    async with rt.db.write() as conn:
        await store.update_result(conn, result["id"], values)


async def _error(
    rt: Runtime, suite: BenchmarkSuiteRecord, result: BenchmarkResultRecord, reason: str
) -> None:
    """A case that did not run: every scorer fails it, with the reason."""
    scores: list[JSONObject] = [
        {
            "scorer": scorer_name(s),
            "type": str(s.get("type")),
            "passed": False,
            "score": 0.0,
            "reason": reason,
        }
        for s in suite["scorers"]
    ]
    values: dict[str, object] = {
        "status": "error",
        "scores": scores,
        "passed": False,
        "score": 0.0,
        "diff": {"equal": False, "error": reason},
        "scored_at": utcnow(),
    }
    async with rt.db.write() as conn:
        await store.update_result(conn, result["id"], values)


def summarize(
    suite: BenchmarkSuiteRecord, results: Sequence[BenchmarkResultRecord]
) -> tuple[JSONObject, bool]:
    """A finished suite's summary (per scorer, latency, credits, counts) and its verdict."""
    judged = [r["scores"] or [] for r in results if r["status"] != "pending"]
    rates = pass_rates(judged)
    failed = failed_thresholds(rates, suite["thresholds"])
    per_scorer: JSONObject = {}
    for spec in suite["scorers"]:
        name = scorer_name(spec)
        rate = rates.get(name, {"pass_rate": 0.0, "mean": 0.0, "count": 0.0})
        threshold = suite["thresholds"].get(name)
        per_scorer[name] = {
            "type": spec.get("type"),
            "pass_rate": round(rate["pass_rate"], 4),
            "mean": round(rate["mean"], 4),
            "count": int(rate["count"]),
            "threshold": threshold,
            "met": None if threshold is None else rate["pass_rate"] + 1e-9 >= threshold,
        }
    latencies = [r["latency_ms"] for r in results if r["latency_ms"] is not None]
    credits = [r["credits"] or 0.0 for r in results if r["status"] == "scored"]
    began, ended = suite["created_at"], utcnow()
    seconds = max((ended - began).total_seconds(), 1e-6)
    done = sum(1 for r in results if r["status"] != "pending")
    summary: JSONObject = {
        "scorers": per_scorer,
        "failed_thresholds": failed,  # type: ignore[dict-item]
        "latency_ms": {
            "p50": percentile(latencies, 0.5),
            "p95": percentile(latencies, 0.95),
            "mean": sum(latencies) / len(latencies) if latencies else None,
        },
        "credits": {
            "total": round(sum(credits), 6),
            "mean": round(sum(credits) / len(credits), 6) if credits else None,
        },
        "counts": {
            "cases": len(results),
            "passed": sum(1 for r in results if r["passed"] is True),
            "failed": sum(1 for r in results if r["status"] == "scored" and not r["passed"]),
            "error": sum(1 for r in results if r["status"] == "error"),
            "pending": len(results) - done,
        },
        "seconds": round(seconds, 3),
        "cases_per_second": round(done / seconds, 3),
    }
    return summary, not failed


async def finish(rt: Runtime, tenant_id: str, suite_id: str, owner: str) -> None:
    """Sum up a suite whose cases are all done; it ends succeeded, or cancelled if asked."""
    async with rt.db.read() as conn:
        suite = await store.get_suite(conn, tenant_id, suite_id)
        results = await store.results_of_suite(conn, tenant_id, suite_id)
    if suite is None or suite["status"] != "running":
        return
    summary, passed = summarize(suite, results)
    cancelled = suite["cancel_requested_at"] is not None
    values: dict[str, object] = {
        "status": "cancelled" if cancelled else "succeeded",
        "summary": summary,
        "passed": None if cancelled else passed,
        "finished_at": utcnow(),
    }
    async with rt.db.write() as conn:
        await store.update_suite(conn, suite_id, values, owner=owner)


async def get_suite(rt: Runtime, who: Principal, suite_id: str) -> BenchmarkSuiteRecord:
    """One suite run of the tenant, or NotFound."""
    who.require(Permission.READ)
    async with rt.db.read() as conn:
        suite = await store.get_suite(conn, who.tenant_id, suite_id)
    if suite is None:
        raise NotFound(f"no suite run {suite_id!r}", [{"name": "suite_id", "value": suite_id}])
    return suite


async def wait_for_suite(
    rt: Runtime, who: Principal, suite_id: str, timeout: float
) -> BenchmarkSuiteRecord:
    """The suite once it has ended, or as it is after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        suite = await get_suite(rt, who, suite_id)
        if suite["status"] != "running" or loop.time() >= deadline:
            return suite
        await asyncio.sleep(min(SUITE_POLL_SECONDS, max(0.0, deadline - loop.time())))


async def cancel_suite(
    rt: Runtime, who: Principal, suite_id: str, action: str = "benchmark.suite_cancelled"
) -> BenchmarkSuiteRecord:
    """Stop a running suite: no new case starts, its unfinished runs are cancelled."""
    who.require(Permission.CANCEL_RUNS)
    suite = await get_suite(rt, who, suite_id)
    if suite["status"] != "running":
        raise Conflict(
            f"suite run {suite_id} already ended ({suite['status']})",
            [{"name": "status", "value": suite["status"]}],
        )
    async with rt.db.write() as conn:
        if suite["cancel_requested_at"] is None:
            await store.update_suite(conn, suite_id, {"cancel_requested_at": utcnow()})
        await audit.record(conn, who, action, "benchmark_suite", suite_id)
    async with rt.db.read() as conn:
        results = await store.results_of_suite(conn, who.tenant_id, suite_id)
    for r in results:
        if r["run_id"] is not None and r["status"] == "pending":
            await _cancel_quietly(rt, who, r["run_id"])
    if not _driven_here(rt, suite_id) and await _owner_gone(rt, suite):
        await resume_orphaned(rt)
    return await get_suite(rt, who, suite_id)


async def _alive(rt: Runtime) -> set[str]:
    """The executors alive now: with a row, and beating."""
    now, dead_after = utcnow(), rt.settings.executor_dead_after
    async with rt.db.read() as conn:
        known = await executors_store.known(conn)
        silent = await executors_store.silent_executors(
            conn, now, dead_after, rt.engine.executor_id
        )
    return (known - {s.id for s in silent}) | {rt.engine.executor_id}


async def _owner_gone(rt: Runtime, suite: BenchmarkSuiteRecord) -> bool:
    owner = suite["owner"]
    if owner == rt.engine.executor_id:
        return not _driven_here(rt, suite["id"])
    return owner is None or owner not in await _alive(rt)


async def resume_orphaned(rt: Runtime) -> list[str]:
    """Take over the running suites whose driver is gone and drive them here; their ids.

    A driver is gone when its process stopped beating (or was declared dead), or when
    it is this process's own id but no task here drives it (a restart reused the id).
    """
    me = rt.engine.executor_id
    async with rt.db.read() as conn:
        running = await store.running_suites(conn)
    if not running:
        return []
    alive = await _alive(rt)
    taken: list[str] = []
    for suite in running:
        if suite["owner"] == me:
            if _driven_here(rt, suite["id"]):
                continue
        elif suite["owner"] in alive:
            continue
        else:
            async with rt.db.write() as conn:
                if not await store.claim_suite(conn, suite, me):
                    continue  # another process took it first
            log.warning(
                "suite %s taken over from %s, whose driver stopped",
                suite["id"],
                suite["owner"],
                extra={"suite": suite["id"], "previous": suite["owner"]},
            )
        _spawn(rt, suite["tenant_id"], suite["id"])
        taken.append(suite["id"])
    return taken
