"""``runplane connections set|ls|rm``: users' credentials for integrations."""

import sys

import typer
from rich.text import Text

from runplane.cli._context import connection, console, reporting_errors
from runplane.cli._render import connections_table


def read_secret(secret: str | None, from_stdin: bool) -> str:
    """The secret from --secret, from stdin, or typed at a prompt (hidden)."""
    if secret is not None and from_stdin:
        raise typer.BadParameter("give --secret or --secret-stdin, not both")
    if from_stdin:
        text = sys.stdin.read().rstrip("\r\n")
    elif secret is not None:
        text = secret
    elif sys.stdin.isatty():
        text = typer.prompt("secret", hide_input=True)
    else:
        raise typer.BadParameter("give --secret SECRET or --secret-stdin", param_hint="--secret")
    if not text:
        raise typer.BadParameter("the secret is empty", param_hint="--secret")
    return text


def set_connection(
    ctx: typer.Context,
    user: str = typer.Argument(..., help="The user's id (a run's user_id)."),
    integration: str = typer.Argument(..., help="The integration, e.g. email."),
    secret: str | None = typer.Option(
        None, "--secret", help="The credential (visible in shell history: see --secret-stdin)."
    ),
    secret_stdin: bool = typer.Option(
        False, "--secret-stdin", help="Read the credential from standard input."
    ),
) -> None:
    """Store USER's credential for INTEGRATION; the runs waiting for it resume."""
    value = read_secret(secret, secret_stdin)
    with reporting_errors(), connection(ctx).client() as client:
        stored = client.connections.put(user, integration, value)
    out = console()
    out.print(Text.assemble(f"{stored.user_id} {stored.integration} ", ("connected", "green")))
    for run_id in stored.resumed_runs:
        out.print(Text.assemble(run_id, " ", ("resumed", "cyan")))


def list_connections(
    ctx: typer.Context, user: str = typer.Argument(..., help="The user's id.")
) -> None:
    """List USER's connections (never their secrets)."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.connections.list(user)
    out = console()
    if not page.items:
        out.print(Text(f"{user} has no connection", style="dim"))
        return
    out.print(connections_table(page.items))


def remove_connection(
    ctx: typer.Context,
    user: str = typer.Argument(..., help="The user's id."),
    integration: str = typer.Argument(..., help="The integration."),
) -> None:
    """Revoke USER's credential for INTEGRATION."""
    with reporting_errors(), connection(ctx).client() as client:
        client.connections.delete(user, integration)
    console().print(Text.assemble(f"{user} {integration} ", ("removed", "magenta")))


def register(app: typer.Typer) -> None:
    """Add the ``connections`` group to the root command."""
    group = typer.Typer(
        help="Give, list and revoke users' credentials for integrations.", no_args_is_help=True
    )
    group.command("set")(set_connection)
    group.command("ls")(list_connections)
    group.command("rm")(remove_connection)
    app.add_typer(group, name="connections")
