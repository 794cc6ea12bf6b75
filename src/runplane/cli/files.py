"""``runplane sites …`` and ``runplane files …``: the tenant's sites and their files."""

import mimetypes
from collections.abc import Iterable
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from runplane.cli._context import connection, console, reporting_errors
from runplane.cli._render import format_time
from runplane.schemas import FilePublic, SitePublic


def files_table(files: Iterable[FilePublic]) -> Table:
    """A table of files: id, name, media type, size, where from, sha256, creation time."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "NAME", "TYPE", "SIZE", "FROM", "SHA256", "CREATED", "HOLD"):
        # The office types are long: cut them short rather than squeeze the name out.
        width = 24 if column == "TYPE" else None
        table.add_column(column, no_wrap=True, max_width=width, overflow="ellipsis")
    for f in files:
        origin = f.site_id or (f"{f.run_id} step {f.step}" if f.run_id else "")
        table.add_row(
            f.id,
            f.name,
            f.media_type,
            str(f.size),
            origin,
            f.sha256[:12],
            format_time(f.created_at),
            f.hold.reason if f.hold else "",
        )
    return table


def sites_table(sites: Iterable[SitePublic]) -> Table:
    """A table of sites: id, name, description, creation time."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "NAME", "DESCRIPTION", "CREATED"):
        table.add_column(column, no_wrap=column != "DESCRIPTION")
    for s in sites:
        table.add_row(s.id, s.name, s.description or "", format_time(s.created_at))
    return table


def upload(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="The files to upload.", exists=True),
    site: str = typer.Option(..., "--site", help="The site (id or name) to upload into."),
    media_type: str | None = typer.Option(
        None, "--type", help="The media type (default: told from the name, checked on content)."
    ),
) -> None:
    """Upload PATHS into a site; print each file's id, type, size and sha256."""
    with reporting_errors(), connection(ctx).client() as client:
        done = []
        for path in paths:
            declared = media_type or mimetypes.guess_type(path.name)[0]
            done.append(client.files.upload(site, path.name, path.read_bytes(), declared))
    console().print(files_table(done))


def list_files(
    ctx: typer.Context,
    site: str | None = typer.Option(None, "--site", help="Only this site's files (id or name)."),
    run: str | None = typer.Option(None, "--run", help="Only the files this run saved."),
    limit: int = typer.Option(20, "--limit", min=1, max=100, help="At most this many."),
) -> None:
    """List files, newest first."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.files.list(site_id=site, run_id=run, limit=limit)
    console().print(files_table(page.items))


def download(
    ctx: typer.Context,
    file_id: str = typer.Argument(..., help="The file's id (fil_…)."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Where to write it (default: its name, here)."
    ),
) -> None:
    """Download FILE_ID; say where it went and its size."""
    with reporting_errors(), connection(ctx).client() as client:
        meta = client.files.get(file_id)
        data = client.files.download(file_id)
    target = output or Path(meta.name)
    target.write_bytes(data)
    console(stderr=True).print(Text(f"{target} ({len(data)} bytes, {meta.media_type})"))


def remove(ctx: typer.Context, file_id: str = typer.Argument(..., help="The file's id.")) -> None:
    """Delete FILE_ID (refused while it is on hold or a run that has not ended uses it)."""
    with reporting_errors(), connection(ctx).client() as client:
        client.files.delete(file_id)
    console().print(Text.assemble(f"{file_id} ", ("deleted", "magenta")))


def hold(
    ctx: typer.Context,
    file_id: str = typer.Argument(..., help="The file's id."),
    reason: str = typer.Option(..., "--reason", help="Why it is held (a case, a matter)."),
) -> None:
    """Put FILE_ID on legal hold: it is not deleted until released (admin keys)."""
    with reporting_errors(), connection(ctx).client() as client:
        f = client.files.hold(file_id, reason)
    held_by = f.hold.by if f.hold else ""
    console().print(Text.assemble(f"{file_id} ", ("on hold", "magenta"), f" by {held_by}"))


def release(ctx: typer.Context, file_id: str = typer.Argument(..., help="The file's id.")) -> None:
    """Release FILE_ID's legal hold (admin keys)."""
    with reporting_errors(), connection(ctx).client() as client:
        client.files.release(file_id)
    console().print(Text.assemble(f"{file_id} ", ("released", "magenta")))


def create_site(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The site's name, unique in the tenant."),
    description: str | None = typer.Option(None, "--description", help="What it holds."),
) -> None:
    """Create a site and print it."""
    with reporting_errors(), connection(ctx).client() as client:
        site = client.sites.create(name, description)
    console().print(sites_table([site]))


def list_sites(ctx: typer.Context) -> None:
    """List the tenant's sites."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.sites.list()
    console().print(sites_table(page.items))


def remove_site(
    ctx: typer.Context, site: str = typer.Argument(..., help="The site's id or name.")
) -> None:
    """Delete an empty site."""
    with reporting_errors(), connection(ctx).client() as client:
        client.sites.delete(site)
    console().print(Text.assemble(f"{site} ", ("deleted", "magenta")))


def run_files(ctx: typer.Context, run_id: str = typer.Argument(..., help="The run's id.")) -> None:
    """List the files RUN_ID's steps saved (download them with ``files download``)."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.runs.files(run_id)
    console().print(files_table(page.items))


def register(app: typer.Typer, runs: typer.Typer) -> None:
    """Add the ``sites`` and ``files`` groups, and ``runs files``."""
    sites = typer.Typer(help="Sites: named collections of files runs read.", no_args_is_help=True)
    sites.command("create")(create_site)
    sites.command("ls")(list_sites)
    sites.command("rm")(remove_site)
    app.add_typer(sites, name="sites")
    files = typer.Typer(help="Upload, list, download and delete files.", no_args_is_help=True)
    files.command("upload")(upload)
    files.command("ls")(list_files)
    files.command("download")(download)
    files.command("rm")(remove)
    files.command("hold")(hold)
    files.command("release")(release)
    app.add_typer(files, name="files")
    runs.command("files")(run_files)
