"""Benchmarks: an agent's cases and scorers; suite runs of them against a revision.

Defining a benchmark or its cases needs the ``publish`` permission (its gate decides
what may be published); running a suite needs ``create_runs``; reading needs ``read``.
"""

from collections.abc import Sequence

from runplane.domain.errors import Conflict, Invalid, NotFound
from runplane.domain.ids import new_id
from runplane.domain.json import JSONObject
from runplane.domain.models import (
    AgentRecord,
    BenchmarkCaseRecord,
    BenchmarkRecord,
    BenchmarkResultRecord,
    BenchmarkSuiteRecord,
    Principal,
    utcnow,
)
from runplane.domain.roles import Permission
from runplane.domain.scoring import load_python_scorer, scorer_name
from runplane.schemas.benchmarks import (
    BenchmarkCreate,
    BenchmarkUpdate,
    CaseCreate,
    CaseFromRun,
    ScorerSpec,
    SuiteCreate,
)
from runplane.services import agents as agents_svc
from runplane.services import audit, suites
from runplane.services import runs as runs_svc
from runplane.services.runtime import Runtime
from runplane.services.suites import SuiteItem, start_suite
from runplane.store import benchmark_runs as runs_store
from runplane.store import benchmarks as store
from runplane.store.runs import decode_token, page_of

BenchmarkView = tuple[BenchmarkRecord, str | None, int]  # the row, its agent's name, cases


def checked_scorers(scorers: Sequence[ScorerSpec]) -> list[JSONObject]:
    """The scorers as stored: unique names, and every ``python`` path importable (422)."""
    out: list[JSONObject] = []
    seen: set[str] = set()
    for i, spec in enumerate(scorers):
        data: JSONObject = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
        name = scorer_name(data)
        if name in seen:
            raise Invalid.field(
                f"scorers.{i}.name", f"two scorers are named {name!r}: name one of them", name
            )
        seen.add(name)
        if data["type"] == "python":
            try:
                load_python_scorer(str(data["path"]))
            except Invalid as exc:
                raise Invalid.field(f"scorers.{i}.path", exc.message, data["path"]) from None
        out.append(data)
    return out


def _checked_gate(gate: JSONObject | None, scorers: list[JSONObject]) -> JSONObject | None:
    if gate is None:
        return None
    names = {scorer_name(s) for s in scorers}
    thresholds = gate.get("thresholds")
    for name, value in thresholds.items() if isinstance(thresholds, dict) else []:
        if name not in names:
            raise Invalid.field(
                f"gate.thresholds.{name}", f"no scorer is named {name!r}", sorted(names)
            )
        if not isinstance(value, int | float) or not 0 <= value <= 1:
            raise Invalid.field(
                f"gate.thresholds.{name}", "a threshold is a pass rate from 0 to 1", value
            )
    return gate


def _not_found(benchmark_id: str) -> NotFound:
    return NotFound(
        f"no benchmark {benchmark_id!r}", [{"name": "benchmark_id", "value": benchmark_id}]
    )


async def _view(rt: Runtime, who: Principal, rows: list[BenchmarkRecord]) -> list[BenchmarkView]:
    async with rt.db.read() as conn:
        counts = await store.case_counts(conn, who.tenant_id, [r["id"] for r in rows])
        names = await store.agent_names(conn, who.tenant_id, [r["agent_id"] for r in rows])
    return [(r, names.get(r["agent_id"]), counts.get(r["id"], 0)) for r in rows]


async def create_benchmark(rt: Runtime, who: Principal, body: BenchmarkCreate) -> BenchmarkView:
    """Define a benchmark of an agent (audited); its name is unique per agent (409)."""
    who.require(Permission.PUBLISH)
    agent = await agents_svc.find_agent(rt, who, body.agent_id)
    scorers = checked_scorers(body.scorers)
    now = utcnow()
    row: BenchmarkRecord = {
        "id": new_id("bch"),
        "tenant_id": who.tenant_id,
        "agent_id": agent["id"],
        "name": body.name,
        "description": body.description,
        "scorers": scorers,
        "on_completion": body.on_completion.model_dump() if body.on_completion else None,
        "gate": _checked_gate(body.gate.model_dump() if body.gate else None, scorers),
        "created_at": now,
        "updated_at": now,
    }
    async with rt.db.write() as conn:
        if await store.find(conn, who.tenant_id, agent["id"], body.name) is not None:
            raise Conflict(
                f"agent {agent['name']!r} already has a benchmark named {body.name!r}",
                [{"name": "name", "value": body.name}],
            )
        await store.insert(conn, row)
        await audit.record(
            conn,
            who,
            "benchmark.created",
            "benchmark",
            row["id"],
            {"agent_id": agent["id"], "name": body.name},
        )
    return row, agent["name"], 0


async def find_benchmark(rt: Runtime, who: Principal, ref: str) -> BenchmarkRecord:
    """A benchmark by id, or NotFound."""
    who.require(Permission.READ)
    async with rt.db.read() as conn:
        row = await store.get(conn, who.tenant_id, ref)
    if row is None:
        raise _not_found(ref)
    return row


async def get_benchmark(rt: Runtime, who: Principal, benchmark_id: str) -> BenchmarkView:
    """One benchmark, with its agent's name and how many cases it has."""
    return (await _view(rt, who, [await find_benchmark(rt, who, benchmark_id)]))[0]


async def list_benchmarks(
    rt: Runtime, who: Principal, agent_ref: str | None, limit: int, token: str | None
) -> tuple[list[BenchmarkView], str | None]:
    """A page of the tenant's benchmarks (of one agent), newest first."""
    who.require(Permission.READ)
    await agents_svc.ensure_code_agents(rt, who.tenant_id)  # the project's come with them
    agent_id = (await agents_svc.find_agent(rt, who, agent_ref))["id"] if agent_ref else None
    after = decode_token(token) if token else None
    async with rt.db.read() as conn:
        rows = await store.list_page(
            conn, who.tenant_id, agent_id=agent_id, limit=limit, after=after
        )
    page, next_token = page_of(rows, limit)
    return await _view(rt, who, page), next_token


async def update_benchmark(
    rt: Runtime, who: Principal, benchmark_id: str, body: BenchmarkUpdate
) -> BenchmarkView:
    """Change a benchmark's description, scorers, completion sampling or gate (audited)."""
    who.require(Permission.PUBLISH)
    row = await find_benchmark(rt, who, benchmark_id)
    given = body.model_fields_set
    values: dict[str, object] = {"updated_at": utcnow()}
    scorers = row["scorers"]
    if "description" in given:
        values["description"] = body.description
    if "scorers" in given:
        if body.scorers is None:
            raise Invalid.field("scorers", "a benchmark needs at least one scorer", None)
        scorers = checked_scorers(body.scorers)
        values["scorers"] = scorers
    if "on_completion" in given:
        values["on_completion"] = body.on_completion.model_dump() if body.on_completion else None
    gate = body.gate.model_dump() if "gate" in given and body.gate else row["gate"]
    if "gate" in given and body.gate is None:
        gate = None
    values["gate"] = _checked_gate(gate, scorers)
    async with rt.db.write() as conn:
        await store.update(conn, who.tenant_id, benchmark_id, values)
        changed: JSONObject = {"fields": list(sorted(given))}
        await audit.record(conn, who, "benchmark.updated", "benchmark", benchmark_id, changed)
    return await get_benchmark(rt, who, benchmark_id)


async def delete_benchmark(rt: Runtime, who: Principal, benchmark_id: str) -> None:
    """Delete a benchmark and its cases (audited); its results stay as history."""
    who.require(Permission.PUBLISH)
    row = await find_benchmark(rt, who, benchmark_id)
    async with rt.db.write() as conn:
        await store.delete(conn, who.tenant_id, benchmark_id)
        noted: JSONObject = {"agent_id": row["agent_id"], "name": row["name"]}
        await audit.record(conn, who, "benchmark.deleted", "benchmark", benchmark_id, noted)


# -- cases -------------------------------------------------------------------------------


async def _add_case(rt: Runtime, who: Principal, row: BenchmarkCaseRecord) -> BenchmarkCaseRecord:
    async with rt.db.write() as conn:
        await store.insert_case(conn, row)
        noted: JSONObject = {"benchmark_id": row["benchmark_id"], "name": row["name"]}
        if row["source_run_id"] is not None:
            noted["source_run_id"] = row["source_run_id"]
        await audit.record(conn, who, "benchmark.case_created", "benchmark_case", row["id"], noted)
    return row


async def create_case(
    rt: Runtime, who: Principal, benchmark_id: str, body: CaseCreate
) -> BenchmarkCaseRecord:
    """Add a case to a benchmark (audited)."""
    who.require(Permission.PUBLISH)
    await find_benchmark(rt, who, benchmark_id)
    case_id = new_id("bcs")
    row: BenchmarkCaseRecord = {
        "id": case_id,
        "tenant_id": who.tenant_id,
        "benchmark_id": benchmark_id,
        "name": body.name or case_id,
        "input": body.input,
        "variables": body.variables,
        "expected": body.expected,
        "tags": body.tags,
        "file_ids": body.file_ids,
        "source_run_id": None,
        "created_at": utcnow(),
    }
    return await _add_case(rt, who, row)


async def case_from_run(
    rt: Runtime, who: Principal, benchmark_id: str, body: CaseFromRun
) -> BenchmarkCaseRecord:
    """Save a succeeded run of the benchmark's agent as a case: its result is the reference."""
    who.require(Permission.PUBLISH)
    bench = await find_benchmark(rt, who, benchmark_id)
    run = await runs_svc.get_run(rt, who, body.run_id)
    if run["agent_id"] != bench["agent_id"]:
        raise Invalid.field(
            "run_id",
            f"run {run['id']} is of agent {run['agent_name']!r}, not the benchmark's",
            run["id"],
        )
    if run["status"] != "succeeded" or run["result"] is None:
        raise Conflict(
            f"run {run['id']} {run['status']}: only a succeeded run's result can be a reference",
            [{"name": "status", "value": run["status"]}],
        )
    case_id = new_id("bcs")
    row: BenchmarkCaseRecord = {
        "id": case_id,
        "tenant_id": who.tenant_id,
        "benchmark_id": benchmark_id,
        "name": body.name or run["name"] or f"from {run['id']}",
        "input": run["input"],
        "variables": run["variables"] or {},
        "expected": run["result"]["content"],
        "tags": body.tags,
        "file_ids": run["file_ids"],
        "source_run_id": run["id"],
        "created_at": utcnow(),
    }
    return await _add_case(rt, who, row)


async def get_case(
    rt: Runtime, who: Principal, benchmark_id: str, case_id: str
) -> BenchmarkCaseRecord:
    """One case of a benchmark, or NotFound."""
    await find_benchmark(rt, who, benchmark_id)
    async with rt.db.read() as conn:
        row = await store.get_case(conn, who.tenant_id, benchmark_id, case_id)
    if row is None:
        raise NotFound(f"no case {case_id!r}", [{"name": "case_id", "value": case_id}])
    return row


async def list_cases(
    rt: Runtime, who: Principal, benchmark_id: str, limit: int, token: str | None
) -> tuple[list[BenchmarkCaseRecord], str | None]:
    """A page of a benchmark's cases, newest first."""
    await find_benchmark(rt, who, benchmark_id)
    after = decode_token(token) if token else None
    async with rt.db.read() as conn:
        rows = await store.cases_page(conn, who.tenant_id, benchmark_id, limit=limit, after=after)
    return page_of(rows, limit)


async def delete_case(rt: Runtime, who: Principal, benchmark_id: str, case_id: str) -> None:
    """Delete a case (audited)."""
    who.require(Permission.PUBLISH)
    await get_case(rt, who, benchmark_id, case_id)
    async with rt.db.write() as conn:
        await store.delete_case(conn, who.tenant_id, benchmark_id, case_id)
        noted: JSONObject = {"benchmark_id": benchmark_id}
        await audit.record(conn, who, "benchmark.case_deleted", "benchmark_case", case_id, noted)


# -- suite runs --------------------------------------------------------------------------


async def _revision_of(rt: Runtime, agent: AgentRecord, revision_id: str | None) -> str:
    """The revision a suite runs: the named one, else the published one (409 if none)."""
    return (await agents_svc.resolve_revision(rt, agent, revision_id))["id"]


async def run_suite(
    rt: Runtime, who: Principal, benchmark_id: str, body: SuiteCreate
) -> BenchmarkSuiteRecord:
    """Run a benchmark's cases (those with one of ``tags``) against a revision."""
    who.require(Permission.CREATE_RUNS)
    bench = await find_benchmark(rt, who, benchmark_id)
    agent = await agents_svc.find_agent(rt, who, bench["agent_id"])
    revision_id = await _revision_of(rt, agent, body.revision_id)
    async with rt.db.read() as conn:
        cases = await store.all_cases(conn, who.tenant_id, benchmark_id)
    if body.tags:
        wanted = set(body.tags)
        cases = [c for c in cases if wanted & set(c["tags"])]
    if not cases:
        raise Invalid.field(
            "tags" if body.tags else "benchmark_id",
            "no case to run" + (" with these tags" if body.tags else ": add cases first"),
            body.tags or benchmark_id,
        )
    items = [
        SuiteItem(
            name=c["name"],
            input=c["input"],
            variables=c["variables"],
            reference=c["expected"],
            case_id=c["id"],
            file_ids=c["file_ids"],
        )
        for c in cases
    ]
    gate = bench["gate"] or {}
    raw = gate.get("thresholds")
    thresholds = (
        {str(k): float(v) for k, v in raw.items() if isinstance(v, int | float)}
        if isinstance(raw, dict)
        else {}
    )
    return await start_suite(
        rt,
        who,
        agent=agent,
        revision_id=revision_id,
        kind="suite",
        benchmark_id=benchmark_id,
        items=items,
        scorers=bench["scorers"],
        thresholds=thresholds,
        concurrency=body.concurrency,
    )


async def list_suites(
    rt: Runtime, who: Principal, benchmark_id: str, limit: int, token: str | None
) -> tuple[list[BenchmarkSuiteRecord], str | None]:
    """A page of a benchmark's suite runs, newest first."""
    await find_benchmark(rt, who, benchmark_id)
    after = decode_token(token) if token else None
    async with rt.db.read() as conn:
        rows = await runs_store.suites_page(
            conn, who.tenant_id, benchmark_id=benchmark_id, limit=limit, after=after
        )
    return page_of(rows, limit)


async def suite_of(
    rt: Runtime, who: Principal, benchmark_id: str | None, suite_id: str
) -> BenchmarkSuiteRecord:
    """A suite run of this benchmark (None: of any, or a replay), or NotFound."""
    who.require(Permission.READ)
    async with rt.db.read() as conn:
        suite = await runs_store.get_suite(conn, who.tenant_id, suite_id)
    if suite is None or (benchmark_id is not None and suite["benchmark_id"] != benchmark_id):
        raise NotFound(f"no suite run {suite_id!r}", [{"name": "suite_id", "value": suite_id}])
    return suite


async def suite_results(
    rt: Runtime,
    who: Principal,
    benchmark_id: str | None,
    suite_id: str,
    limit: int,
    token: str | None,
) -> tuple[list[BenchmarkResultRecord], str | None]:
    """A page of a suite run's results."""
    await suite_of(rt, who, benchmark_id, suite_id)
    after = decode_token(token) if token else None
    async with rt.db.read() as conn:
        rows = await runs_store.results_page(
            conn, who.tenant_id, suite_id=suite_id, limit=limit, after=after
        )
    return page_of(rows, limit)


async def get_suite(
    rt: Runtime, who: Principal, benchmark_id: str | None, suite_id: str, wait: float | None
) -> BenchmarkSuiteRecord:
    """A suite run of this benchmark; with ``wait``, once it has ended (or after that long)."""
    suite = await suite_of(rt, who, benchmark_id, suite_id)
    if wait and suite["status"] == "running":
        suite = await suites.wait_for_suite(rt, who, suite_id, wait)
    return suite


async def cancel_suite(
    rt: Runtime, who: Principal, benchmark_id: str | None, suite_id: str
) -> BenchmarkSuiteRecord:
    """Cancel a suite run of this benchmark (audited)."""
    await suite_of(rt, who, benchmark_id, suite_id)
    return await suites.cancel_suite(rt, who, suite_id)
