"""How runs, steps and events look on a terminal (and in a pipe)."""

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from runplane.schemas import EventPublic, RunPublic, RunResult, StepPublic

STATUS_STYLES = {
    "queued": "dim",
    "running": "cyan",
    "paused": "yellow",
    "auth_required": "yellow",
    "succeeded": "green",
    "completed": "green",
    "reused": "green dim",
    "failed": "red",
    "canceled": "magenta",
}
EXIT_CODES = {"succeeded": 0, "failed": 1, "canceled": 3}
SUMMARY_LENGTH = 160


def status_text(status: str) -> Text:
    """A status word in its colour."""
    return Text(status, style=STATUS_STYLES.get(status, ""))


def run_line(run: RunPublic) -> Text:
    """``<run id> <status>``: the one line that names a run."""
    return Text.assemble(run.id, " ", status_text(run.status))


def format_time(moment: datetime | None) -> str:
    """A timestamp to the second, or an empty string."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def format_duration(started: datetime | None, finished: datetime | None) -> str:
    """``1.2s`` or ``3m 04s`` between two moments, or an empty string."""
    if started is None or finished is None:
        return ""
    seconds = max(0.0, (finished - started).total_seconds())
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m {rest:02d}s"


def runs_table(runs: Iterable[RunPublic]) -> Table:
    """A table of runs: id, agent, name, status, steps, creation time."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("ID", no_wrap=True)
    table.add_column("AGENT", no_wrap=True)
    table.add_column("NAME")
    table.add_column("STATUS", no_wrap=True)
    table.add_column("STEPS", justify="right", no_wrap=True)
    table.add_column("CREATED", no_wrap=True)
    for run in runs:
        table.add_row(
            run.id,
            run.agent_name,
            run.name or "",
            status_text(run.status),
            f"{run.steps_finished}/{run.step_count}" if run.step_count else str(run.steps_finished),
            format_time(run.created_at),
        )
    return table


def run_details(run: RunPublic) -> Table:
    """A two-column grid of a run's fields."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    rows: list[tuple[str, str | Text | None]] = [
        ("id", run.id),
        ("agent", f"{run.agent_name} ({run.agent_id})"),
        ("revision", run.revision_id),
        ("name", run.name),
        ("status", status_text(run.status)),
        ("trigger", run.trigger),
        ("steps", f"{run.steps_finished} finished of {run.step_count}"),
        ("parent", run.parent_run_id),
        ("rerun of", f"{run.rerun_of} from step {run.from_step}" if run.rerun_of else None),
        ("archived", "yes" if run.archived else None),
        ("created", format_time(run.created_at)),
        ("started", format_time(run.started_at)),
        ("finished", format_time(run.finished_at)),
        ("input", _compact(run.input) if run.input is not None else None),
        ("variables", _compact(run.variables) if run.variables else None),
    ]
    for name, value in rows:
        if value:
            grid.add_row(name, value)
    return grid


def steps_table(steps: Iterable[StepPublic]) -> Table:
    """A table of steps: number, name, status, duration."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("STEP")
    table.add_column("STATUS", no_wrap=True)
    table.add_column("DURATION", justify="right", no_wrap=True)
    for step in steps:
        duration = format_duration(step.started_at, step.finished_at)
        table.add_row(str(step.number), step.name, status_text(step.status), duration)
    return table


def event_summary(event: EventPublic) -> str:
    """What an event says, in one short line."""
    data = event.data
    summary: Any
    if event.type == "status":
        summary = data.get("status", "")
    elif event.type.startswith("step."):
        summary = f"#{data.get('number')} {data.get('name', '')}"
        if isinstance(data.get("error"), dict):
            summary += f": {data['error'].get('message', '')}"
    elif event.type in ("planning", "plan"):
        summary = data.get("content", data)
    elif event.type == "reasoning":
        summary = data.get("text", data)
    elif event.type == "tool_call":
        summary = f"{data.get('name')}({_compact(data.get('arguments', {}))})"
    elif event.type == "tool_result":
        summary = f"{data.get('name')} -> {_compact(data.get('output'))}"
    elif event.type == "source":
        summary = " ".join(str(p) for p in (data.get("title"), data.get("url")) if p)
    elif event.type == "error":
        summary = data.get("message", data)
    else:
        summary = data
    return _shorten(summary if isinstance(summary, str) else _compact(summary))


def event_line(event: EventPublic) -> Text:
    """``<seq> <type> <summary>`` for one event."""
    style = "red" if event.type in ("error", "step.failed") else ""
    line = Text.assemble(
        (f"{event.seq:>4} ", "dim"), (f"{event.type:<15} ", "bold"), (event_summary(event), style)
    )
    line.no_wrap, line.overflow = True, "ellipsis"
    return line


def print_result(out: Console, result: RunResult | None) -> None:
    """Print a run's result: a document as Markdown, JSON pretty-printed, then its sources."""
    if result is None:
        out.print(Text("(no result)", style="dim"))
        return
    shown = ""
    if result.type == "json":
        out.print_json(data=result.content)
    else:
        shown = result.content if isinstance(result.content, str) else _compact(result.content)
        if out.is_terminal:
            out.print(Markdown(shown))
        else:
            out.print(shown, markup=False, highlight=False, soft_wrap=True)
    for source in result.sources:
        if not _cited(source, shown):
            title = source.get("title") or source.get("url") or _compact(source)
            url = f" {source['url']}" if source.get("url") and source.get("title") else ""
            out.print(Text(f"- {title}{url}", style="dim"), soft_wrap=True)


def print_outcome(out: Console, run: RunPublic) -> None:
    """Print how an ended run ended: its line, then its result or its error."""
    out.print(run_line(run))
    if run.status == "succeeded":
        print_result(out, run.result)
    elif run.error is not None:
        where = f" (step {run.error.step})" if run.error.step is not None else ""
        out.print(Text(f"{run.error.code}: {run.error.message}{where}", style="red"))
    elif run.cancel_receipt is not None and run.cancel_receipt.step is not None:
        out.print(Text(f"stopped during step {run.cancel_receipt.step}", style="magenta"))


def _cited(source: dict[str, Any], document: str) -> bool:
    return bool(document) and any(
        source.get(key) and str(source[key]) in document for key in ("url", "title")
    )


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _shorten(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= SUMMARY_LENGTH else line[: SUMMARY_LENGTH - 1] + "…"
