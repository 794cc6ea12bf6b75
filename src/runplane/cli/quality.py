"""``runplane quality AGENT``: an agent's (or one benchmark's) quality figures as tables."""

from datetime import UTC, datetime, timedelta
from enum import StrEnum

import typer
from rich.table import Table
from rich.text import Text

from runplane.cli._context import connection, console, reporting_errors
from runplane.schemas.quality import Figures, QualityPublic


class Bucket(StrEnum):
    """The size of the over-time rows."""

    HOUR = "hour"
    DAY = "day"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _num(value: float | None, fmt: str = "{:.2f}") -> str:
    return "—" if value is None else fmt.format(value)


def _columns(table: Table, first: str) -> None:
    table.add_column(first, no_wrap=True)
    for name in ("RUNS", "PASS", "SCORE", "P50 MS", "P95 MS", "CREDITS"):
        table.add_column(name, justify="right", no_wrap=True)


def _cells(f: Figures) -> list[str]:
    return [
        str(f.count),
        _pct(f.pass_rate),
        _num(f.mean_score),
        _num(f.latency_p50_ms, "{:,.0f}"),
        _num(f.latency_p95_ms, "{:,.0f}"),
        _num(f.mean_credits, "{:.4f}"),
    ]


def quality_tables(q: QualityPublic) -> list[Table]:
    """Per revision, per scorer, over time, and the A/B split (when on)."""
    revisions = Table(title="per revision", box=None, header_style="bold", pad_edge=False)
    _columns(revisions, "REVISION")
    for r in q.per_revision:
        revisions.add_row(r.revision_id, *_cells(r))
    revisions.add_row(Text("all", style="bold"), *_cells(q.overall))
    scorers = Table(title="per scorer", box=None, header_style="bold", pad_edge=False)
    for name in ("SCORER", "VERDICTS", "PASS", "MEAN"):
        scorers.add_column(name, justify="left" if name == "SCORER" else "right")
    for name, s in sorted(q.overall.scorers.items()):
        scorers.add_row(name, str(s.count), _pct(s.pass_rate), _num(s.mean))
    over = Table(title=f"per {q.bucket}", box=None, header_style="bold", pad_edge=False)
    _columns(over, q.bucket.upper())
    for b in q.over_time:
        start = b.start.astimezone(UTC)
        over.add_row(
            start.strftime("%Y-%m-%d %H:00" if q.bucket == "hour" else "%Y-%m-%d"), *_cells(b)
        )
    tables = [revisions, scorers, over]
    if q.ab is not None:
        ab = Table(
            title=f"A/B split ({q.ab.percent_b:g}% to B)",
            box=None,
            header_style="bold",
            pad_edge=False,
        )
        _columns(ab, "ARM")
        ab.add_row(f"A {q.ab.revision_a}", *_cells(q.ab.a))
        ab.add_row(f"B {q.ab.revision_b}", *_cells(q.ab.b))
        tables.append(ab)
    return tables


def show_quality(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="The agent's name or id."),
    benchmark: str | None = typer.Option(
        None, "--benchmark", help="Only this benchmark's results."
    ),
    days: int = typer.Option(30, "--days", min=1, max=3650, help="How many days back."),
    bucket: Bucket = typer.Option(Bucket.DAY, "--bucket", help="hour or day (UTC)."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Show an agent's quality: pass rates, scores, latency and credits of its scored runs."""
    until = datetime.now(UTC)
    since = until - timedelta(days=days)
    with reporting_errors(), connection(ctx).client() as client:
        if benchmark is not None:
            q = client.quality.benchmark(benchmark, since=since, until=until, bucket=bucket.value)
        else:
            q = client.quality.agent(agent, since=since, until=until, bucket=bucket.value)
    out = console()
    if as_json:
        out.print_json(q.model_dump_json())
        return
    if not q.overall.count:
        out.print(Text(f"no scored runs in the last {days} days", style="dim"))
        return
    for table in quality_tables(q):
        out.print(table)
        out.print()


def register(app: typer.Typer) -> None:
    """Add the ``quality`` command to the root command."""
    app.command("quality")(show_quality)
