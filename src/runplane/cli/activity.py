"""``runplane governance activity``: who did what, as a table or exported whole (admin keys)."""

import sys
from collections.abc import Iterable
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import typer
from rich.progress import DownloadColumn, Progress, SpinnerColumn, TextColumn, TransferSpeedColumn
from rich.table import Table
from rich.text import Text

from runplane.cli._context import connection, console, reporting_errors
from runplane.cli._render import format_time
from runplane.schemas import AuditEventPublic

ACTOR_STYLES = {"api": "cyan", "console": "blue", "link": "magenta", "system": "yellow"}


class Format(StrEnum):
    """How to show the activity: a table of the newest rows, or all of it as a file."""

    TABLE = "table"
    JSONL = "jsonl"
    CSV = "csv"


def activity_table(rows: Iterable[AuditEventPublic]) -> Table:
    """A table of activity: when, the actor and how it acted, the action, its target."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("AT", "VIA", "ACTION"):
        table.add_column(column, no_wrap=True)
    # Ids are long: they fold onto a second line rather than lose their ends.
    table.add_column("ACTOR", overflow="fold")
    table.add_column("RESOURCE", overflow="fold")
    for row in rows:
        target = f"{row.target_type} {row.target_id}" if row.target_id else row.target_type
        via = Text(row.actor_type, style=ACTOR_STYLES.get(row.actor_type, "green"))
        table.add_row(format_time(row.at), via, row.action, row.actor_key_id or "", target)
    return table


def activity(
    ctx: typer.Context,
    actor: str | None = typer.Option(
        None, "--actor", help="A key id, or trigger:…, cron:…, run:…, link:…, system."
    ),
    actor_type: str | None = typer.Option(
        None, "--actor-type", help="api, console, link, trigger, schedule, agent or system."
    ),
    resource: str | None = typer.Option(None, "--resource", help="run, agent, file, trigger …"),
    resource_id: str | None = typer.Option(None, "--resource-id", help="One resource's id."),
    action: str | None = typer.Option(
        None, "--action", help="An action (run.created), or a prefix ending in '.' (run.)."
    ),
    since: str | None = typer.Option(None, "--since", help="RFC 3339: at or after."),
    until: str | None = typer.Option(None, "--until", help="RFC 3339: at or before."),
    limit: int = typer.Option(50, "--limit", min=1, help="Rows in the table (not in exports)."),
    fmt: Format = typer.Option(Format.TABLE, "--format", help="table, or export: jsonl or csv."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the export here (default: standard output)."
    ),
) -> None:
    """Show who did what, newest first; --format jsonl|csv exports every matching row."""
    filters: dict[str, Any] = {
        "actor": actor,
        "actor_type": actor_type,
        "resource": resource,
        "resource_id": resource_id,
        "action": action,
        "since": since,
        "until": until,
    }
    with reporting_errors(), connection(ctx).client() as client:
        if fmt == Format.TABLE:
            rows = list(islice(client.activity.iter(limit=min(limit, 500), **filters), limit))
            console().print(activity_table(rows))
            if not rows:
                console(stderr=True).print(Text("no activity matches", style="yellow"))
            return
        kind: Literal["jsonl", "csv"] = "csv" if fmt == Format.CSV else "jsonl"
        if output is None:
            client.activity.export(sys.stdout.buffer, format=kind, **filters)
            return
        columns = (SpinnerColumn(), TextColumn("{task.description}"), DownloadColumn())
        with Progress(*columns, TransferSpeedColumn(), console=console(stderr=True)) as progress:
            task = progress.add_task(f"exporting to {output}", total=None)
            written = client.activity.export(
                output,
                format=kind,
                on_progress=lambda done: progress.update(task, completed=done),
                **filters,
            )
    console(stderr=True).print(Text(f"{output} ({written} bytes, {fmt.value})", style="green"))
