"""``runplane keys create|ls|revoke``: API keys (create offline in the database; list and
revoke through the API with an admin key)."""

from collections.abc import Iterable
from enum import StrEnum

import typer
from rich.table import Table
from rich.text import Text

from runplane.cli._context import build_settings, connection, console, reporting_errors
from runplane.cli._render import format_time
from runplane.cli.server import DATABASE_HELP
from runplane.schemas import KeyPublic


class Role(StrEnum):
    """What a key may do (the table is in docs/security.md)."""

    ADMIN = "admin"
    MEMBER = "member"
    APPROVER = "approver"
    VIEWER = "viewer"


def create(
    tenant: str = typer.Option("default", "--tenant", help="The tenant the key belongs to."),
    name: str | None = typer.Option(None, "--name", help="A label for the key."),
    role: Role = typer.Option(Role.ADMIN, "--role", help="What the key may do."),
    user_id: str | None = typer.Option(
        None, "--user-id", help="Bind the key to this user: its runs act as that user only."
    ),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
) -> None:
    """Create an API key and print it, alone on the last line; it is shown only once."""
    with reporting_errors():
        settings = build_settings(database_url=database_url)
        # Imported here so that `runplane --help` does not load the store.
        from runplane.admin import create_api_key

        key = create_api_key(settings, tenant=tenant, name=name, role=role.value, user_id=user_id)
    bound = f" bound to user {user_id!r}" if user_id else ""
    note = (
        f"created an {role.value} API key{bound} for tenant {tenant!r}; it will not be shown again:"
    )
    console(stderr=True).print(Text(note, style="green"), soft_wrap=True)
    console().print(key, markup=False, highlight=False, soft_wrap=True)


def keys_table(keys: Iterable[KeyPublic]) -> Table:
    """A table of keys: id, prefix, role, user, name, creation and revocation times."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "PREFIX", "ROLE", "USER", "NAME", "CREATED", "REVOKED"):
        table.add_column(column, no_wrap=column != "NAME")
    for key in keys:
        table.add_row(
            key.id,
            key.prefix,
            key.role,
            key.user_id or "",
            key.name or "",
            format_time(key.created_at),
            format_time(key.revoked_at),
        )
    return table


def list_keys(ctx: typer.Context) -> None:
    """List the tenant's API keys, live and revoked (never the keys themselves)."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.keys.list()
    console().print(keys_table(page.items))


def revoke(
    ctx: typer.Context, key_id: str = typer.Argument(..., help="The key's id (key_…).")
) -> None:
    """Revoke KEY_ID: its next request is refused."""
    with reporting_errors(), connection(ctx).client() as client:
        client.keys.revoke(key_id)
    console().print(Text.assemble(f"{key_id} ", ("revoked", "magenta")))


def register(app: typer.Typer) -> None:
    """Add the ``keys`` group to the root command."""
    group = typer.Typer(help="Manage API keys.", no_args_is_help=True)
    group.command("create")(create)
    group.command("ls")(list_keys)
    group.command("revoke")(revoke)
    app.add_typer(group, name="keys")
