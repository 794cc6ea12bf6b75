"""``runplane tools ls``: the tools agents may call."""

import typer
from rich.text import Text

from runplane.cli._context import connection, console, reporting_errors
from runplane.cli._render import tools_table


def list_tools(
    ctx: typer.Context,
    integration: str | None = typer.Option(
        None, "--integration", help="Only this integration's tools."
    ),
) -> None:
    """List the tools: their integration, what they need, their arguments."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.tools.list()
    tools = [t for t in page.items if integration is None or t.integration == integration]
    out = console()
    if not tools:
        out.print(Text("no tools", style="dim"))
        return
    out.print(tools_table(tools))


def register(app: typer.Typer) -> None:
    """Add the ``tools`` group to the root command."""
    group = typer.Typer(help="List the tools agents may call.", no_args_is_help=True)
    group.command("ls")(list_tools)
    app.add_typer(group, name="tools")
