"""Benchmark pages: a benchmark (cases, scorers, suite runs, "Run suite"), one suite run
(per-case rows with a side-by-side diff), and the run page's benchmarks panel actions."""

import difflib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from runplane.console.session import User, UserDep, check_csrf, redirect_with_notice
from runplane.console.views.common import render
from runplane.domain.errors import Gone, NotFound
from runplane.domain.json import JSON
from runplane.domain.models import RunRecord
from runplane.domain.roles import Permission
from runplane.schemas.benchmarks import CaseFromRun, SuiteCreate
from runplane.services import agents as agents_svc
from runplane.services import benchmark_scores as scores_svc
from runplane.services import benchmarks as svc
from runplane.services import runs as runs_svc
from runplane.services.runtime import Runtime
from runplane.services.suites import item_of

router = APIRouter()

MAX_ROWS = 500  # a suite page shows this many cases (the API pages through all)
SIDE_CHARS = 20_000  # each side of a diff is cut here


def as_text(value: JSON) -> str:
    """A value as a diff shows it: text as is, anything else as indented JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def side_by_side(reference: JSON, output: JSON) -> list[tuple[str, str, str]]:
    """Rows ``(kind, left, right)`` of a line diff: same, changed, removed or added."""
    left = as_text(reference)[:SIDE_CHARS].splitlines()
    right = as_text(output)[:SIDE_CHARS].splitlines()
    rows: list[tuple[str, str, str]] = []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(None, left, right).get_opcodes():
        if op == "equal":
            rows += [("same", left[a1 + i], right[b1 + i]) for i in range(a2 - a1)]
            continue
        for i in range(max(a2 - a1, b2 - b1)):
            a = left[a1 + i] if a1 + i < a2 else None
            b = right[b1 + i] if b1 + i < b2 else None
            kind = "changed" if a is not None and b is not None else "del" if b is None else "add"
            rows.append((kind, a or "", b or ""))
    return rows


async def _output(rt: Runtime, user: User, run_id: str | None) -> tuple[RunRecord | None, JSON]:
    if not run_id:
        return None, None
    try:
        run = await runs_svc.get_run(rt, user.who, run_id)
    except (NotFound, Gone):  # a deleted run: its result row stays, with no output to show
        return None, None
    result = run["result"]
    return run, result.get("content") if isinstance(result, dict) else None


@router.get("/benchmarks/{benchmark_id}")
async def benchmark_page(request: Request, benchmark_id: str, user: UserDep) -> Response:
    """A benchmark: its scorers and gate, its cases, its suite runs, and "Run suite"."""
    rt = request.app.state.rt
    bench, agent_name, case_count = await svc.get_benchmark(rt, user.who, benchmark_id)
    cases, _ = await svc.list_cases(rt, user.who, benchmark_id, 100, None)
    suites, _ = await svc.list_suites(rt, user.who, benchmark_id, 20, None)
    revisions = await agents_svc.list_revisions(rt, user.who, bench["agent_id"])
    agent = await agents_svc.find_agent(rt, user.who, bench["agent_id"])
    return render(
        request,
        "benchmark.html",
        user,
        bench=bench,
        agent=agent,
        agent_name=agent_name or agent["name"],
        case_count=case_count,
        cases=cases,
        suites=suites,
        revisions=revisions,
        can_run=user.who.can(Permission.CREATE_RUNS),
        pretty_short=lambda v: as_text(v)[:300],
    )


@router.post("/benchmarks/{benchmark_id}/runs")
async def run_suite(
    request: Request,
    benchmark_id: str,
    user: UserDep,
    csrf: Annotated[str, Form()] = "",
    revision_id: Annotated[str, Form(max_length=40)] = "",
    concurrency: Annotated[int, Form(ge=1, le=64)] = 4,
) -> Response:
    """Run the benchmark's cases against a revision (default: the published one)."""
    check_csrf(user, csrf)
    body = SuiteCreate(revision_id=revision_id or None, concurrency=concurrency)
    suite = await svc.run_suite(request.app.state.rt, user.who, benchmark_id, body)
    notice = (
        f"Suite run {suite['id']} started: {suite['case_count']} cases of {suite['revision_id']}."
    )
    return redirect_with_notice(
        request, f"/console/benchmarks/{benchmark_id}/runs/{suite['id']}", notice
    )


@router.get("/benchmarks/{benchmark_id}/runs/{suite_id}")
async def suite_page(request: Request, benchmark_id: str, suite_id: str, user: UserDep) -> Response:
    """A suite run: its summary, and per case passed, score, latency, credits and a diff."""
    rt = request.app.state.rt
    bench, agent_name, _ = await svc.get_benchmark(rt, user.who, benchmark_id)
    suite = await svc.suite_of(rt, user.who, benchmark_id, suite_id)
    results: list[Any] = []
    token: str | None = None
    while len(results) < MAX_ROWS:
        page, token = await svc.suite_results(rt, user.who, benchmark_id, suite_id, 100, token)
        results += page
        if not token:
            break
    rows = []
    for r in results[:MAX_ROWS]:
        item = item_of(r)
        run, output = await _output(rt, user, r["run_id"])
        reference: JSON = item.reference
        if r["reference_run_id"]:  # a replay: the recorded run's output is the reference
            _, reference = await _output(rt, user, r["reference_run_id"])
        rows.append(
            {
                "result": r,
                "name": item.name,
                "run": run,
                "output": output,
                "reference": reference,
                "diff": side_by_side(reference, output) if r["status"] != "pending" else [],
            }
        )
    return render(
        request,
        "benchmark_suite.html",
        user,
        bench=bench,
        agent_name=agent_name,
        suite=suite,
        rows=rows,
        summary=suite["summary"] or {},
        can_cancel=suite["status"] == "running" and user.who.can(Permission.CREATE_RUNS),
    )


@router.post("/benchmarks/{benchmark_id}/runs/{suite_id}/cancel")
async def cancel_suite(
    request: Request,
    benchmark_id: str,
    suite_id: str,
    user: UserDep,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Cancel a suite run: its runs still going are canceled."""
    check_csrf(user, csrf)
    await svc.cancel_suite(request.app.state.rt, user.who, benchmark_id, suite_id)
    url = f"/console/benchmarks/{benchmark_id}/runs/{suite_id}"
    return redirect_with_notice(request, url, "Cancel requested.")


@router.post("/runs/{run_id}/save-case")
async def save_as_case(
    request: Request,
    run_id: str,
    user: UserDep,
    csrf: Annotated[str, Form()] = "",
    benchmark_id: Annotated[str, Form(min_length=1, max_length=40)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Save this run as a case of a benchmark: its input, and its result as the reference."""
    check_csrf(user, csrf)
    body = CaseFromRun(run_id=run_id, name=name.strip() or None)
    case = await svc.case_from_run(request.app.state.rt, user.who, benchmark_id, body)
    notice = f"Saved as case {case['name']!r} of the benchmark (its result is the reference)."
    return redirect_with_notice(request, f"/console/runs/{run_id}", notice)


@router.post("/runs/{run_id}/score")
async def score_now(
    request: Request,
    run_id: str,
    user: UserDep,
    csrf: Annotated[str, Form()] = "",
    benchmark_id: Annotated[str, Form(min_length=1, max_length=40)] = "",
) -> Response:
    """Score this run now with a benchmark's scorers."""
    check_csrf(user, csrf)
    row = await scores_svc.score_manually(request.app.state.rt, user.who, run_id, benchmark_id)
    verdict = "passed" if row["passed"] else "did not pass"
    notice = f"Scored: the run {verdict} ({len(row['scores'] or [])} scorers)."
    return redirect_with_notice(request, f"/console/runs/{run_id}", notice)


async def run_panel(rt: Runtime, user: User, run: RunRecord) -> dict[str, Any]:
    """The run page's benchmarks panel: the run's scores, and its agent's benchmarks."""
    scores, _ = await scores_svc.scores_of_run(rt, user.who, run["id"], 20, None)
    benches, _ = await svc.list_benchmarks(rt, user.who, run["agent_id"], 100, None)
    names = {b[0]["id"]: b[0]["name"] for b in benches}
    return {
        "scores": scores,
        "benchmarks": [b[0] for b in benches],
        "names": names,
        "can_score": user.who.can(Permission.CREATE_RUNS),
        "can_save": user.who.can(Permission.PUBLISH) and run["status"] == "succeeded",
    }
