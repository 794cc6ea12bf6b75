"""``runplane evidence verify|export|keys``: check a bundle offline, export runs' evidence,
and list or rotate the tenant's signing keys."""

import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from runplane.cli._context import connection, console, print_error, reporting_errors
from runplane.cli._render import format_time
from runplane.client import Verdict, verify_evidence
from runplane.schemas.evidence import ExportPublic, SigningKeyPublic

DATES = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]
POLL_SECONDS = 0.3


def verify(
    bundle: Path = typer.Argument(..., help="The bundle (a zip) to check."),
    keys: list[Path] = typer.Option(
        [],
        "--key",
        "-k",
        help="A public key (PEM) to trust, from `runplane evidence keys pem`; repeatable.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON."),
) -> None:
    """Check BUNDLE offline: its signature, every member's hash, every event chain.

    Exits 0 when it is VALID, 1 when it is INVALID, 2 when it cannot be read.
    """
    pems: list[str] = []
    for key in keys:
        try:
            pems.append(key.read_text())
        except OSError as exc:
            print_error(f"cannot read the key {key}: {exc.strerror or exc}")
            raise typer.Exit(2) from None
    verdict = verify_evidence(bundle, pems)
    if as_json:
        console().print_json(json.dumps({"bundle": str(bundle), **verdict.as_dict()}))
    else:
        print_verdict(bundle, verdict)
    raise typer.Exit(0 if verdict.ok else 1 if verdict.readable else 2)


SIGNATURE_WORDS = {
    "valid": ("valid, by a key you pinned", "green"),
    "unpinned": ("valid for the key inside the bundle (not pinned)", "yellow"),
    "unsigned": ("none: the bundle is not signed", "yellow"),
    "invalid": ("INVALID", "red"),
    "wrong_key": ("made by a key you did not pin", "red"),
    "unchecked": ("not checked", "red"),
}


def print_verdict(bundle: Path, verdict: Verdict) -> None:
    """The verdict: VALID or INVALID, what was checked, then each problem and warning."""
    out = console()
    word, style = ("VALID", "bold green") if verdict.ok else ("INVALID", "bold red")
    out.print(Text.assemble((word, style), "  ", str(bundle)), soft_wrap=True)
    if verdict.readable and verdict.signature != "unchecked":
        said, tone = SIGNATURE_WORDS[verdict.signature]
        key = f" (key {verdict.key_id})" if verdict.key_id else ""
        out.print(Text.assemble("  signature  ", (said, tone), key), soft_wrap=True)
        out.print(
            f"  checked    {verdict.runs} run(s), {verdict.members} members, "
            f"{verdict.events} events, {verdict.bytes:,} bytes",
            soft_wrap=True,
            highlight=False,
        )
    for p in verdict.problems:
        where = f"  {p.member}" if p.member and p.member not in p.detail else ""
        out.print(Text.assemble("  ✗ ", (p.kind, "red"), where, f"  {p.detail}"), soft_wrap=True)
    for warning in verdict.warnings:
        out.print(Text.assemble("  ! ", ("warning", "yellow"), f"  {warning}"), soft_wrap=True)


def export(
    ctx: typer.Context,
    run_ids: list[str] = typer.Argument(None, help="Runs to export (or use --agent/--since)."),
    agent: str | None = typer.Option(None, "--agent", "-a", help="Export this agent's runs."),
    since: datetime | None = typer.Option(
        None, "--since", formats=DATES, help="Created at or after."
    ),
    until: datetime | None = typer.Option(None, "--until", formats=DATES, help="Created before."),
    status: str | None = typer.Option(None, "--status", help="succeeded, failed or canceled."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to save the bundle (a zip)."),
) -> None:
    """Export runs' evidence (admin keys): start the export, follow it, save the bundle."""
    if not run_ids and agent is None and since is None and until is None and status is None:
        raise typer.BadParameter("give RUN_IDS, or --agent/--since/--until/--status")
    err = console(stderr=True)
    with reporting_errors(), connection(ctx).client() as client:
        started = client.evidence.export(
            list(run_ids) if run_ids else None,
            agent_id=agent,
            created_after=since,
            created_before=until,
            status=status,
        )
        done = _follow(client.evidence.get_export, started, err.is_terminal)
        if done.status != "succeeded":
            print_error(f"export {done.id} failed: {(done.error or {}).get('message', '')}")
            raise typer.Exit(1)
        data = client.evidence.download_export(done.id)
    output.write_bytes(data)
    err.print(
        Text.assemble(
            ("saved ", "green"),
            f"{output} ({len(data):,} bytes, {done.runs_total} run(s), sha256 {done.sha256}); "
            f"check it with: runplane evidence verify {output} --key KEY.pem",
        ),
        soft_wrap=True,
    )


def _follow(get: Callable[[str], ExportPublic], export: ExportPublic, bar: bool) -> ExportPublic:
    """Poll the export until it ends, with a progress bar on a terminal."""
    columns = (
        TextColumn("exporting {task.fields[id]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs · {task.fields[mb]:.1f} MB"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console(stderr=True), disable=not bar, transient=False) as p:
        task = p.add_task("export", total=export.runs_total, id=export.id, mb=0.0)
        while export.status not in ("succeeded", "failed"):
            time.sleep(POLL_SECONDS)
            export = get(export.id)
            p.update(task, completed=export.runs_done, mb=export.bytes / 1e6)
        p.update(task, completed=export.runs_done, mb=export.bytes / 1e6)
    return export


def keys_table(keys: list[SigningKeyPublic]) -> Table:
    """The tenant's signing keys: id, algorithm, whether active, created, retired."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "ALGORITHM", "ACTIVE", "CREATED", "RETIRED"):
        table.add_column(column, no_wrap=True)
    for key in keys:
        table.add_row(
            key.id,
            key.algorithm,
            "yes" if key.active else "no",
            format_time(key.created_at),
            format_time(key.retired_at),
        )
    return table


def list_keys(ctx: typer.Context) -> None:
    """List the tenant's signing keys (retired ones still check the bundles they signed)."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.evidence.keys()
    if not page.items:
        console(stderr=True).print("no signing key yet: the first export makes one")
    console().print(keys_table(page.items))


def pem(
    ctx: typer.Context,
    key_id: str | None = typer.Argument(None, help="The key's id (default: the active one)."),
) -> None:
    """Print a signing key's public half (PEM), to pin with `evidence verify --key`."""
    with reporting_errors(), connection(ctx).client() as client:
        keys = client.evidence.keys().items
    found = [k for k in keys if (k.id == key_id if key_id else k.active)]
    if not found:
        print_error(f"no signing key {key_id}" if key_id else "no active signing key yet")
        raise typer.Exit(1)
    console().print(found[0].public_key.rstrip(), markup=False, highlight=False, soft_wrap=True)


def rotate(ctx: typer.Context) -> None:
    """Make a new signing key and retire the old one (admin keys); old bundles still verify."""
    with reporting_errors(), connection(ctx).client() as client:
        key = client.evidence.rotate_key()
    console().print(
        Text.assemble(f"{key.id} ", ("active", "green"), "; the previous key is retired")
    )


def register(app: typer.Typer) -> None:
    """Add the ``evidence`` group (with its ``keys`` subgroup) to the root command."""
    group = typer.Typer(
        help="Evidence bundles: verify offline, export, signing keys.", no_args_is_help=True
    )
    group.command("verify")(verify)
    group.command("export")(export)
    keys = typer.Typer(help="The tenant's evidence signing keys.", no_args_is_help=True)
    keys.command("ls")(list_keys)
    keys.command("pem")(pem)
    keys.command("rotate")(rotate)
    group.add_typer(keys, name="keys")
    app.add_typer(group, name="evidence")
