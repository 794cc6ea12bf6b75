"""``runplane db upgrade``: the database schema."""

import typer
from rich.text import Text

from runplane.cli._context import build_settings, console, reporting_errors
from runplane.cli.server import DATABASE_HELP


def upgrade(
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Bring the database schema up to date; print the revision it is at."""
    with reporting_errors():
        url = database_url or build_settings().session_url
        # Imported here so that `runplane --help` does not load SQLAlchemy and Alembic.
        from runplane.store.migrate import upgrade as upgrade_schema

        head = upgrade_schema(url)
    console(stderr=True).print(Text("the database schema is up to date", style="green"))
    console().print(head, markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``db`` group to the root command."""
    group = typer.Typer(help="Manage the database.", no_args_is_help=True)
    group.command("upgrade")(upgrade)
    app.add_typer(group, name="db")
