"""``runplane bench``: benchmarks of agents, their cases, and suite runs that can gate a CI.

``runplane bench run AGENT`` runs a benchmark's cases against a revision, shows its
progress, prints a table per case and per scorer, and exits 1 when a threshold of the
benchmark's gate is not met (0 when every one is), so it can sit in a user's own CI.
"""

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from runplane.cli._context import connection, console, print_error, reporting_errors
from runplane.client import Client
from runplane.schemas.benchmarks import BenchmarkPublic, ResultPublic, SuitePublic

POLL_SECONDS = 0.5


def _table(*columns: str) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in columns:
        table.add_column(name, no_wrap=name in ("ID", "RUN", "CASES", "PASSED", "MET"))
    return table


def _benchmarks_table(items: list[BenchmarkPublic]) -> Table:
    table = _table("ID", "AGENT", "NAME", "CASES", "SCORERS", "GATE")
    for b in items:
        scorers = ", ".join(str(s.get("name") or s["type"]) for s in b.scorers)
        thresholds = (b.gate or {}).get("thresholds") or {}
        gate = ", ".join(f"{k}≥{v:g}" for k, v in thresholds.items()) or "-"
        table.add_row(
            b.id,
            b.agent_name or b.agent_id,
            b.name,
            str(b.case_count or 0),
            scorers,
            gate,
        )
    return table


def list_benchmarks(
    ctx: typer.Context,
    agent: str | None = typer.Option(None, "--agent", help="Only this agent's (id or name)."),
    limit: int = typer.Option(50, "--limit", min=1, max=100),
) -> None:
    """List benchmarks, newest first."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.benchmarks.list(agent_id=agent, limit=limit)
    out = console()
    out.print(_benchmarks_table(page.items) if page.items else Text("no benchmarks", style="dim"))


def create_benchmark(
    ctx: typer.Context,
    file: Path = typer.Option(
        ..., "--file", "-f", exists=True, dir_okay=False, help="The benchmark (JSON)."
    ),
) -> None:
    """Create a benchmark from FILE: its fields, and optionally its ``cases`` to add."""
    try:
        data = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{file} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise typer.BadParameter(f"{file} holds no JSON object")
    cases = data.pop("cases", None) or []
    with reporting_errors(), connection(ctx).client() as client:
        made = client.benchmarks.create(
            data["agent_id"],
            data["name"],
            data["scorers"],
            description=data.get("description"),
            on_completion=data.get("on_completion"),
            gate=data.get("gate"),
        )
        for case in cases:
            client.benchmarks.add_case(made.id, **case)
        made = client.benchmarks.get(made.id)
    console().print(_benchmarks_table([made]))


def _benchmarks_of(client: Client, target: str) -> list[BenchmarkPublic]:
    """A benchmark by id, or every benchmark of an agent (by id or name)."""
    if target.startswith("bch_"):
        return [client.benchmarks.get(target)]
    return list(client.benchmarks.list(agent_id=target, limit=100).items)


def list_cases(
    ctx: typer.Context,
    target: str = typer.Argument(..., metavar="AGENT|BENCH", help="An agent, or a benchmark id."),
    limit: int = typer.Option(100, "--limit", min=1, max=100),
) -> None:
    """List the cases of a benchmark, or of every benchmark of an agent."""
    table = _table("ID", "BENCHMARK", "NAME", "TAGS", "INPUT", "EXPECTED")
    with reporting_errors(), connection(ctx).client() as client:
        for bench in _benchmarks_of(client, target):
            for case in client.benchmarks.cases(bench.id, limit=limit).items:
                table.add_row(
                    case.id,
                    bench.name,
                    case.name,
                    ",".join(case.tags),
                    _short(case.input),
                    _short(case.expected),
                )
    console().print(table if table.row_count else Text("no cases", style="dim"))


def _short(value: Any, width: int = 40) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def save_case(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="A succeeded run."),
    benchmark: str = typer.Option(..., "--benchmark", "-b", help="Its id, or its name."),
    name: str | None = typer.Option(None, "--name"),
    tag: list[str] | None = typer.Option(None, "--tag", help="A tag (repeatable)."),
) -> None:
    """Save a succeeded run as a case: its input, its result as the reference."""
    with reporting_errors(), connection(ctx).client() as client:
        bench_id = benchmark
        if not benchmark.startswith("bch_"):
            run = client.runs.get(run_id)
            bench_id = _named(client, run.agent_id, benchmark).id
        case = client.benchmarks.from_run(bench_id, run_id, name=name, tags=tag or [])
    console().print(Text(f"case {case.id} ({case.name}) saved from {run_id}"))


def _named(client: Client, agent: str, name: str | None) -> BenchmarkPublic:
    """The agent's benchmark with this name, or its only one when no name is given."""
    found = list(client.benchmarks.list(agent_id=agent, limit=100).items)
    if name is not None:
        found = [b for b in found if name in (b.name, b.id)]
    if len(found) == 1:
        return found[0]
    names = ", ".join(b.name for b in found) or "none"
    wanted = f"no benchmark {name!r}" if name else "several benchmarks"
    print_error(f"agent {agent}: {wanted} (has: {names}); name one with --benchmark")
    raise typer.Exit(2)


def _all_results(client: Client, suite_id: str) -> list[ResultPublic]:
    return list(client.benchmarks.all_results(suite_id))


def _follow(client: Client, suite: SuitePublic, quiet: bool) -> SuitePublic:
    """Poll a suite until it ends, with a live progress bar (on stderr) unless ``quiet``."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[passed]} passed"),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
        disable=quiet,
    )
    task = progress.add_task(f"suite {suite.id}", total=suite.case_count, passed=0)
    with progress:
        while suite.status == "running":
            if not quiet:
                done = [r for r in _all_results(client, suite.id) if r.status != "pending"]
                passed = sum(1 for r in done if r.passed)
                progress.update(task, completed=len(done), passed=passed)
            suite = client.benchmarks.wait_suite(suite.id, timeout=POLL_SECONDS, poll=POLL_SECONDS)
    return suite


def _case_table(results: list[ResultPublic]) -> Table:
    table = _table("CASE", "PASSED", "SCORE", "LATENCY", "CREDITS", "RUN", "FAILED SCORERS")
    for r in sorted(results, key=lambda r: r.created_at):
        failed = ", ".join(v.scorer for v in r.scores or [] if not v.passed)
        table.add_row(
            _case_name(r),
            Text("yes", "green") if r.passed else Text("no", "red"),
            "-" if r.score is None else f"{r.score:.2f}",
            "-" if r.latency_ms is None else f"{r.latency_ms:.0f} ms",
            "-" if r.credits is None else f"{r.credits:g}",
            r.run_id or "-",
            failed,
        )
    return table


def _case_name(result: ResultPublic) -> str:
    return result.name or result.case_id or result.id


def _scorer_table(suite: SuitePublic) -> Table:
    table = _table("SCORER", "PASS RATE", "MEAN", "THRESHOLD", "MET")
    for name, s in ((suite.summary or {}).get("scorers") or {}).items():
        threshold = s.get("threshold")
        met = s.get("met")
        table.add_row(
            name,
            f"{s['pass_rate']:.0%}",
            f"{s['mean']:.2f}",
            "-" if threshold is None else f"{threshold:.0%}",
            "-" if met is None else (Text("yes", "green") if met else Text("no", "red")),
        )
    return table


def _report(suite: SuitePublic, results: list[ResultPublic]) -> None:
    out = console()
    out.print(_case_table(results))
    out.print()
    out.print(_scorer_table(suite))
    summary = suite.summary or {}
    latency = summary.get("latency_ms") or {}
    credits = summary.get("credits") or {}
    counts = summary.get("counts") or {}
    p50, p95 = latency.get("p50"), latency.get("p95")
    out.print()
    out.print(
        Text(
            f"{counts.get('passed', 0)}/{suite.case_count} cases passed · latency p50 "
            f"{_ms(p50)} p95 {_ms(p95)} · credits {credits.get('total', 0):g} · "
            f"{summary.get('cases_per_second', 0):g} cases/s"
        )
    )
    verdict = _verdict(suite)
    style = "bold green" if verdict == "passed" else "bold red"
    out.print(Text(f"suite {suite.id} {suite.status}: gate {verdict}", style))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _verdict(suite: SuitePublic) -> str:
    if suite.status != "succeeded":
        return suite.status
    return "passed" if suite.passed else "failed"


def run_suite(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="The agent (id or name)."),
    benchmark: str | None = typer.Option(
        None, "--benchmark", "-b", help="Its name or id (default: the agent's only one)."
    ),
    revision: str | None = typer.Option(
        None, "--revision", "-r", help="The revision (default: the published one)."
    ),
    tag: list[str] | None = typer.Option(None, "--tag", help="Only cases with a tag (repeatable)."),
    concurrency: int = typer.Option(4, "--concurrency", "-c", min=1, max=64),
    as_json: bool = typer.Option(False, "--json", help="Print the suite and results as JSON."),
    timeout: float = typer.Option(3600.0, "--timeout", help="Give up waiting after this long."),
) -> None:
    """Run a benchmark's cases against a revision; exit 1 when its gate is not met."""
    started = time.monotonic()
    with reporting_errors(), connection(ctx).client() as client:
        bench = _named(client, agent, benchmark)
        suite = client.benchmarks.run_suite(
            bench.id, revision_id=revision, tags=tag or None, concurrency=concurrency
        )
        suite = _follow(client, suite, quiet=as_json)
        if suite.status == "running" and time.monotonic() - started > timeout:
            print_error(f"suite {suite.id} still running after {timeout:g} s")
            raise typer.Exit(1)
        results = _all_results(client, suite.id)
    if as_json:
        data = {
            "suite": suite.model_dump(mode="json"),
            "results": [r.model_dump(mode="json") for r in results],
        }
        console().print_json(data=data)
    else:
        _report(suite, results)
    if _verdict(suite) != "passed":
        raise typer.Exit(1)


def show_results(
    ctx: typer.Context,
    suite_id: str = typer.Argument(..., help="The suite run."),
    as_json: bool = typer.Option(False, "--json", help="Print the suite and results as JSON."),
) -> None:
    """Show a suite run's results: per case, per scorer, and its verdict."""
    with reporting_errors(), connection(ctx).client() as client:
        suite = client.benchmarks.get_suite(suite_id)
        results = _all_results(client, suite_id)
    if as_json:
        data = {
            "suite": suite.model_dump(mode="json"),
            "results": [r.model_dump(mode="json") for r in results],
        }
        console().print_json(data=data)
        return
    _report(suite, results)


def register(app: typer.Typer, extra: Mapping[str, Callable[..., None]] | None = None) -> None:
    """Add the ``bench`` group: ``list``, ``create``, ``cases``, ``save-case``, ``run``,
    ``results``, and the ``extra`` commands (``gate``)."""
    group = typer.Typer(
        help="Benchmarks: cases, scorers, and suite runs that gate a revision.",
        no_args_is_help=True,
    )
    group.command("list")(list_benchmarks)
    group.command("create")(create_benchmark)
    group.command("cases")(list_cases)
    group.command("save-case")(save_case)
    group.command("run")(run_suite)
    group.command("results")(show_results)
    # Commands of other modules that reuse this one's report (``gate``, cli/gate.py).
    for name, command in (extra or {}).items():
        group.command(name)(command)
    app.add_typer(group, name="bench")
