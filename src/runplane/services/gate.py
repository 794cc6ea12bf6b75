"""The replay gate: a revision judged on replays of recorded production runs, before publishing.

The gate replays the agent's latest succeeded production runs against the revision
(their tool calls answered from the recordings, ``engine/recording.py``; model calls
live), scores each with the scorers of the agent's gate benchmark against the recorded
result, and passes when every scorer's pass rate reaches its threshold. When the gate
is ``required``, publishing needs a passing gate; an admin may publish anyway, giving a
reason that the activity log keeps.
"""

from runplane.domain.errors import Conflict, Forbidden, NotFound
from runplane.domain.json import JSON, JSONObject, as_object
from runplane.domain.models import (
    AgentRecord,
    BenchmarkRecord,
    BenchmarkSuiteRecord,
    Principal,
    RevisionRecord,
    RunRecord,
)
from runplane.domain.roles import Permission
from runplane.services import agents as agents_svc
from runplane.services.runtime import Runtime
from runplane.services.suites import SuiteItem, start_suite, wait_for_suite
from runplane.store import gates as store

# How long a publish that has to run its gate first waits for it.
PUBLISH_WAIT_SECONDS = 120.0
GATE_CONCURRENCY = 4
_FINISHED = ("succeeded", "failed")


async def _gate_of(rt: Runtime, who: Principal, agent: AgentRecord) -> BenchmarkRecord | None:
    async with rt.db.read() as conn:
        return await store.gate_benchmark(conn, who.tenant_id, agent["id"])


def _reference(run: RunRecord) -> JSON:
    """What a recorded run gave: its result's content."""
    result = run["result"]
    return None if result is None else result.get("content")


def replay_items(recorded: list[RunRecord]) -> list[SuiteItem]:
    """One suite item per recorded run: its input, variables and files, its result to match."""
    return [
        SuiteItem(
            name=run["name"] or run["id"],
            input=run["input"],
            variables=run["variables"] or {},
            reference=_reference(run),
            file_ids=run["file_ids"],
            replay_of=run["id"],
        )
        for run in recorded
    ]


async def start_gate(
    rt: Runtime, who: Principal, ref: str, revision_id: str
) -> BenchmarkSuiteRecord:
    """Start the revision's replay gate: a ``replay`` suite of recent production runs (409
    when the agent has no gate benchmark or no run to replay)."""
    agent = await agents_svc.find_agent(rt, who, ref)
    await agents_svc.get_revision(rt, who, agent["id"], revision_id)
    benchmark = await _gate_of(rt, who, agent)
    if benchmark is None:
        raise Conflict(
            f"agent {agent['name']!r} has no gate: give one of its benchmarks a `gate`",
            [{"name": "agent_id", "value": ref}],
        )
    return await _start(rt, who, agent, revision_id, benchmark)


async def _start(
    rt: Runtime, who: Principal, agent: AgentRecord, revision_id: str, benchmark: BenchmarkRecord
) -> BenchmarkSuiteRecord:
    gate = as_object(benchmark["gate"])
    count = gate.get("replay_runs")
    limit = int(count) if isinstance(count, int) and count > 0 else 10
    async with rt.db.read() as conn:
        recorded = await store.runs_to_replay(conn, who.tenant_id, agent["id"], revision_id, limit)
    if not recorded:
        raise Conflict(
            f"agent {agent['name']!r} has no succeeded run of another revision to replay",
            [{"name": "revision_id", "value": revision_id}],
        )
    thresholds = as_object(gate.get("thresholds"))
    return await start_suite(
        rt,
        who,
        agent=agent,
        revision_id=revision_id,
        kind="replay",
        benchmark_id=benchmark["id"],
        items=replay_items(recorded),
        scorers=benchmark["scorers"],
        thresholds={k: float(v) for k, v in thresholds.items() if isinstance(v, int | float)},
        concurrency=GATE_CONCURRENCY,
        action="gate.started",
    )


async def latest_gate(
    rt: Runtime, who: Principal, ref: str, revision_id: str
) -> BenchmarkSuiteRecord:
    """The revision's latest replay gate suite (404 when it never ran)."""
    agent = await agents_svc.find_agent(rt, who, ref)
    async with rt.db.read() as conn:
        found = await store.gate_suites(conn, who.tenant_id, agent["id"], revision_id)
    if not found:
        raise NotFound(
            f"revision {revision_id} of {agent['name']!r} has no replay gate run",
            [{"name": "revision_id", "value": revision_id}],
        )
    return found[0]


def gate_report(suite: BenchmarkSuiteRecord) -> JSONObject:
    """What a gate found: its suite, verdict, failed thresholds and per-scorer pass rates."""
    summary = suite["summary"] or {}
    scorers = as_object(summary.get("scorers"))
    rates: JSONObject = {
        name: as_object(figures).get("pass_rate") for name, figures in scorers.items()
    }
    return {
        "suite_id": suite["id"],
        "revision_id": suite["revision_id"],
        "status": suite["status"],
        "passed": suite["passed"],
        "thresholds": dict(suite["thresholds"]),
        "pass_rates": rates,
        "failed_thresholds": summary.get("failed_thresholds", []),
    }


async def _gate_verdict(
    rt: Runtime, who: Principal, agent: AgentRecord, revision_id: str, benchmark: BenchmarkRecord
) -> BenchmarkSuiteRecord | None:
    """The revision's gate suite to judge it by: the latest finished one, else a new one
    waited for; None when there is nothing to replay (a new agent's first publish)."""
    async with rt.db.read() as conn:
        found = await store.gate_suites(
            conn,
            who.tenant_id,
            agent["id"],
            revision_id,
            benchmark["id"],
            (*_FINISHED, "running"),
        )
    suite = found[0] if found else None
    if suite is None:
        try:
            suite = await _start(rt, who, agent, revision_id, benchmark)
        except Conflict:
            return None  # no production run yet: nothing a gate could compare
    if suite["status"] == "running":
        suite = await wait_for_suite(rt, who, suite["id"], PUBLISH_WAIT_SECONDS)
    return suite


async def publish(
    rt: Runtime,
    who: Principal,
    ref: str,
    revision_id: str,
    override_reason: str | None = None,
) -> RevisionRecord:
    """Publish a revision, through its replay gate when the agent requires one.

    A failing gate refuses with 409 and the report in ``details``; an admin may publish
    anyway with ``override_reason``, which the ``revision.published`` activity row keeps.
    """
    who.require(Permission.PUBLISH)
    agent = await agents_svc.find_agent(rt, who, ref)
    await agents_svc.get_revision(rt, who, agent["id"], revision_id)
    benchmark = await _gate_of(rt, who, agent)
    gate = as_object(benchmark["gate"]) if benchmark is not None else {}
    if benchmark is None or not gate.get("required"):
        return await agents_svc.publish(rt, who, agent["id"], revision_id)
    suite = await _gate_verdict(rt, who, agent, revision_id, benchmark)
    if suite is None:
        noted: JSONObject = {"gate": "nothing to replay"}
        return await agents_svc.publish(rt, who, agent["id"], revision_id, activity=noted)
    report = gate_report(suite)
    if suite["passed"]:
        noted = {"gate_suite_id": suite["id"], "gate_passed": True}
        return await agents_svc.publish(rt, who, agent["id"], revision_id, activity=noted)
    if override_reason is None:
        if suite["status"] == "running":
            message = f"the replay gate of revision {revision_id} is still running ({suite['id']})"
        else:
            message = f"the replay gate of revision {revision_id} failed: " + _failures(report)
        raise Conflict(
            message + "; an admin may publish anyway with override_reason",
            [{"name": "gate", "value": report}],
        )
    if who.role != "admin":
        raise Forbidden(
            "only an admin may publish a revision over a failing gate",
            [{"name": "override_reason", "value": override_reason}],
        )
    noted = {
        "gate_overridden": True,
        "override_reason": override_reason,
        "gate_suite_id": suite["id"],
        "gate": report,
    }
    return await agents_svc.publish(rt, who, agent["id"], revision_id, activity=noted)


def _failures(report: JSONObject) -> str:
    """The failed thresholds in words: ``exact 40% < 90%``."""
    words = []
    for failed in report["failed_thresholds"] or []:  # type: ignore[union-attr]
        item = as_object(failed)
        rate, minimum = item.get("pass_rate"), item.get("threshold")
        if isinstance(rate, int | float) and isinstance(minimum, int | float):
            words.append(f"{item.get('scorer')} passed {rate:.0%} < {minimum:.0%}")
    return ", ".join(words) or f"suite {report['suite_id']} did not pass"
