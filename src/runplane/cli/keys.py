"""``runplane keys create``: API keys, made directly in the database."""

from enum import StrEnum

import typer
from rich.text import Text

from runplane.cli._context import build_settings, console, reporting_errors
from runplane.cli.server import DATABASE_HELP


class Role(StrEnum):
    """What a key may do: everything (admin) or use the API without administering it."""

    ADMIN = "admin"
    MEMBER = "member"


def create(
    tenant: str = typer.Option("default", "--tenant", help="The tenant the key belongs to."),
    name: str | None = typer.Option(None, "--name", help="A label for the key."),
    role: Role = typer.Option(Role.ADMIN, "--role", help="What the key may do."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Create an API key and print it, alone on the last line; it is shown only once."""
    with reporting_errors():
        settings = build_settings(database_url=database_url)
        # Imported here so that `runplane --help` does not load the store.
        from runplane.admin import create_api_key

        key = create_api_key(settings, tenant=tenant, name=name, role=role.value)
    note = f"created an {role.value} API key for tenant {tenant!r}; it will not be shown again:"
    console(stderr=True).print(Text(note, style="green"), soft_wrap=True)
    console().print(key, markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``keys`` group to the root command."""
    group = typer.Typer(help="Manage API keys.", no_args_is_help=True)
    group.command("create")(create)
    app.add_typer(group, name="keys")
