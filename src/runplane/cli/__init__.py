"""The ``runplane`` command line: serve agents, start runs, follow and manage them."""

import typer

from runplane.cli import (
    agents,
    approvals,
    bench,
    budgets,
    connections,
    db,
    evidence,
    gate,
    governance,
    keys,
    models,
    quality,
    quotas,
    runs,
    server,
    tools,
    triggers,
    usage,
    webhooks,
)
from runplane.cli._context import Connection

app = typer.Typer(
    name="runplane",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    url: str | None = typer.Option(
        None,
        "--url",
        envvar="RUNPLANE_URL",
        show_default="http://127.0.0.1:8000",
        help="The server's URL.",
    ),
    api_key: str | None = typer.Option(
        None, "--api-key", envvar="RUNPLANE_API_KEY", help="The API key to send."
    ),
) -> None:
    """Run AI agents durably: serve them, start runs, follow and manage them."""
    ctx.obj = Connection(url, api_key)


server.register(app)
runs.register(app)
agents.register(app)
approvals.register(app)
budgets.register(app)
connections.register(app)
tools.register(app)
db.register(app)
keys.register(app)
evidence.register(app)
quotas.register(app)
models.register(app)
triggers.register(app)
usage.register(app)
webhooks.register(app)
governance.register(app)
bench.register(app, extra={"gate": gate.gate})
quality.register(app)


def main() -> None:
    """Run the ``runplane`` command line."""
    app()


__all__ = ["app", "main"]
