"""``runplane budgets ls|set|rm|approve``: limits on model usage, and approving overruns."""

import typer
from rich.table import Table
from rich.text import Text

from runplane.cli._context import connection, console, reporting_errors
from runplane.cli._render import format_time, run_line
from runplane.schemas.usage import BudgetPublic


def _limit(value: float | int | None) -> str:
    return "-" if value is None else f"{value:g}"


def budgets_table(budgets: list[BudgetPublic]) -> Table:
    """A table of budgets: scope, soft and hard limits, period."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("SCOPE", "CREDITS", "TOKENS", "HARD CREDITS", "HARD TOKENS", "PERIOD", "SET"):
        table.add_column(name, no_wrap=True)
    for b in budgets:
        hard = b.hard_ceiling
        table.add_row(
            "tenant" if b.scope == "tenant" else f"agent {b.agent}",
            _limit(b.credits),
            _limit(b.tokens),
            _limit(hard.credits if hard else None),
            _limit(hard.tokens if hard else None),
            b.period,
            format_time(b.updated_at),
        )
    return table


def list_budgets(ctx: typer.Context) -> None:
    """List the tenant's budget and its agents' budgets."""
    with reporting_errors(), connection(ctx).client() as client:
        found = client.budgets.list()
    out = console()
    out.print(budgets_table(found) if found else Text("no budgets", style="dim"))


def set_budget(
    ctx: typer.Context,
    agent: str | None = typer.Option(
        None, "--agent", help="An agent's budget (else the tenant's)."
    ),
    credits: float | None = typer.Option(None, "--credits", min=0, help="Soft limit: pause."),
    tokens: int | None = typer.Option(None, "--tokens", min=0, help="Soft limit: pause."),
    hard_credits: float | None = typer.Option(None, "--hard-credits", min=0, help="Fail past it."),
    hard_tokens: int | None = typer.Option(None, "--hard-tokens", min=0, help="Fail past it."),
    period: str = typer.Option("month", "--period", help="day, month or total."),
) -> None:
    """Set the tenant's (or an agent's) budget; runs it paused resume and check again."""
    limits: dict[str, object] = {"credits": credits, "tokens": tokens, "period": period}
    if hard_credits is not None or hard_tokens is not None:
        limits["hard_ceiling"] = {"credits": hard_credits, "tokens": hard_tokens}
    with reporting_errors(), connection(ctx).client() as client:
        made = client.budgets.set(agent, **limits)
    console().print(budgets_table([made]))


def remove_budget(
    ctx: typer.Context,
    agent: str | None = typer.Option(
        None, "--agent", help="An agent's budget (else the tenant's)."
    ),
) -> None:
    """Remove the tenant's (or an agent's) budget; runs it paused resume."""
    with reporting_errors(), connection(ctx).client() as client:
        client.budgets.delete(agent)
    console().print(Text("removed", style="dim"))


def approve_overrun(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="The run paused on a budget."),
    credits: float | None = typer.Option(None, "--credits", min=0, help="Credits more."),
    tokens: int | None = typer.Option(None, "--tokens", min=0, help="Tokens more."),
) -> None:
    """Let a run paused on a budget spend this much more; it resumes from the same step."""
    if credits is None and tokens is None:
        raise typer.BadParameter("give --credits or --tokens")
    with reporting_errors(), connection(ctx).client() as client:
        run = client.budgets.approve(run_id, credits=credits, tokens=tokens)
    console().print(run_line(run))


def register(app: typer.Typer) -> None:
    """Add the ``budgets`` group to the root command."""
    group = typer.Typer(help="Budgets of model usage.", no_args_is_help=True)
    group.command("ls")(list_budgets)
    group.command("set")(set_budget)
    group.command("rm")(remove_budget)
    group.command("approve")(approve_overrun)
    app.add_typer(group, name="budgets")
