"""``runplane serve`` and ``runplane worker``: the long-running processes."""

from enum import StrEnum
from pathlib import Path

import typer

from runplane.cli._context import build_settings, reporting_errors

DATABASE_HELP = "The database URL (default: RUNPLANE_DATABASE_URL, else a local SQLite file)."
PROJECT_HELP = "The project file that declares the agents (default: runplane.toml)."
CONCURRENCY_HELP = "How many runs this process executes at once."


class Role(StrEnum):
    """What a process does: accept and stream runs, execute them, or both."""

    api = "api"
    worker = "worker"
    all = "all"


def serve(
    host: str | None = typer.Option(None, "--host", help="The address to listen on."),
    port: int | None = typer.Option(None, "--port", help="The port to listen on."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
    project: Path | None = typer.Option(None, "--project", help=PROJECT_HELP),
    role: Role | None = typer.Option(
        None,
        "--role",
        help="api: accept runs and stream them (workers execute them); worker: execute "
        "queued runs, no HTTP API; all: both (default; RUNPLANE_ROLE).",
    ),
    no_worker: bool = typer.Option(False, "--no-worker", hidden=True, help="Same as --role api."),
    concurrency: int | None = typer.Option(
        None, "--concurrency", min=1, max=1024, help=CONCURRENCY_HELP
    ),
    processes: int | None = typer.Option(
        None,
        "--processes",
        min=1,
        max=64,
        help="Server processes sharing the port (default 1; one per core scales out; "
        "roles api and all).",
    ),
) -> None:
    """Start the server: the API and the console, a worker, or both (--role)."""
    if no_worker and role is None:
        role = Role.api
    with reporting_errors():
        settings = build_settings(
            host=host,
            port=port,
            database_url=database_url,
            project=project,
            concurrency=concurrency,
            processes=processes,
            role=role.value if role is not None else None,
        )
    if settings.role == "worker" and settings.processes > 1:
        raise typer.BadParameter(
            "a worker is one process; start one `runplane worker` per core",
            param_hint="--processes",
        )
    # Imported here so that `runplane --help` does not load the server.
    from runplane import server

    server.serve(settings)


def worker(
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_HELP),
    project: Path | None = typer.Option(None, "--project", help=PROJECT_HELP),
    concurrency: int | None = typer.Option(
        None, "--concurrency", min=1, max=1024, help=CONCURRENCY_HELP
    ),
) -> None:
    """Start a worker that executes queued runs, no API (same as `serve --role worker`)."""
    with reporting_errors():
        settings = build_settings(
            database_url=database_url, project=project, concurrency=concurrency
        )
    from runplane import server

    server.run_worker(settings)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``worker`` to the root command."""
    app.command("serve")(serve)
    app.command("worker")(worker)
