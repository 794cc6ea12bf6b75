"""``runplane quotas set``: a tenant's quotas, set by the operator in the database."""

import typer

from runplane.cli._context import build_settings, console, reporting_errors
from runplane.cli.server import DATABASE_HELP


def set_quotas(
    tenant: str = typer.Argument(..., help="The tenant's name."),
    max_running: int | None = typer.Option(
        None, "--max-running", min=1, help="Runs it may have in flight at once."
    ),
    max_queued: int | None = typer.Option(
        None, "--max-queued", min=1, help="Runs it may have waiting to start."
    ),
    default: bool = typer.Option(
        False, "--default", help="Clear the overrides: the server's defaults apply again."
    ),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Give a tenant its own quotas (above the defaults too, unlike an admin key)."""
    values: dict[str, int | None] = {}
    if default:
        values = {"max_running": None, "max_queued": None}
    if max_running is not None:
        values["max_running"] = max_running
    if max_queued is not None:
        values["max_queued"] = max_queued
    if not values:
        raise typer.BadParameter("give --max-running, --max-queued or --default")
    with reporting_errors():
        settings = build_settings(database_url=database_url)
        from runplane.admin import set_tenant_quotas  # the store loads only when needed

        now = set_tenant_quotas(settings, tenant, values)
    shown = " ".join(f"{k}={'default' if v is None else v}" for k, v in now.items())
    console().print(f"tenant {tenant!r}: {shown}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``quotas`` group to the root command."""
    group = typer.Typer(help="Manage tenants' quotas.", no_args_is_help=True)
    group.command("set")(set_quotas)
    app.add_typer(group, name="quotas")
