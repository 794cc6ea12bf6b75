"""``runplane usage``: the tenant's model tokens and credits per agent, model or day."""

from datetime import datetime
from enum import StrEnum

import typer
from rich.table import Table
from rich.text import Text

from runplane.cli._context import connection, console, reporting_errors
from runplane.schemas.usage import UsageTotals


class GroupBy(StrEnum):
    """What the totals are grouped by."""

    AGENT = "agent"
    MODEL = "model"
    DAY = "day"


def _moment(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{flag} is not an ISO 8601 time: {value!r}") from None


def usage_table(totals: UsageTotals) -> Table:
    """A table of usage totals: key, calls, runs, tokens in/out/cached/reasoning, credits."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column(totals.group_by.upper())
    for name in ("CALLS", "RUNS", "IN", "OUT", "CACHED", "REASONING", "CREDITS"):
        table.add_column(name, justify="right", no_wrap=True)
    for item in totals.items:
        u = item.usage
        table.add_row(
            item.key,
            str(item.calls),
            str(item.runs),
            str(u.input_tokens),
            str(u.output_tokens),
            str(u.cached_tokens),
            str(u.reasoning_tokens),
            f"{item.credits:.4f}",
        )
    u = totals.usage
    table.add_row(
        Text("total", style="bold"),
        str(sum(i.calls for i in totals.items)),
        "",
        str(u.input_tokens),
        str(u.output_tokens),
        str(u.cached_tokens),
        str(u.reasoning_tokens),
        f"{totals.credits:.4f}",
    )
    return table


def show_usage(
    ctx: typer.Context,
    by: GroupBy = typer.Option(GroupBy.AGENT, "--by", help="agent, model or day (UTC)."),
    since: str | None = typer.Option(None, "--since", help="ISO 8601: calls from then on."),
    until: str | None = typer.Option(None, "--until", help="ISO 8601: calls before then."),
    as_json: bool = typer.Option(False, "--json", help="Print the totals as JSON."),
) -> None:
    """Show the tokens and credits (1 credit = 1 US cent) the tenant's model calls used."""
    start, end = _moment(since, "--since"), _moment(until, "--until")
    with reporting_errors(), connection(ctx).client() as client:
        totals = client.usage.totals(by.value, since=start, until=end)
    out = console()
    if as_json:
        out.print_json(totals.model_dump_json())
    elif not totals.items:
        out.print(Text("no model calls", style="dim"))
    else:
        out.print(usage_table(totals))


def register(app: typer.Typer) -> None:
    """Add the ``usage`` command to the root command."""
    app.command("usage")(show_usage)
