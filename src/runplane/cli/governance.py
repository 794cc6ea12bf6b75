"""``runplane governance policy|holds|deletions|tombstones``: the tenant's governance policy
and its versions, legal holds, deletions awaiting approval, and deleted runs' tombstones."""

import json
from collections.abc import Callable
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from runplane.cli._context import connection, console, reporting_errors
from runplane.cli._render import format_time
from runplane.cli.activity import activity
from runplane.schemas.governance import DeletionRequestPublic, HoldPublic, PolicyVersionPublic


def _table(*columns: str) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in columns:
        table.add_column(name, no_wrap=name not in ("REASON", "COMMENT"))
    return table


def _print_version(found: PolicyVersionPublic) -> None:
    out = console()
    by = found.created_by_key_id or "built-in"
    out.print(Text(f"version {found.version}, {format_time(found.created_at)} by {by}", "bold"))
    if found.comment:
        out.print(Text(found.comment, style="dim"))
    out.print_json(data=found.document.model_dump(mode="json"))


def show_policy(
    ctx: typer.Context,
    version: int | None = typer.Option(None, "--version", min=1, help="A past version."),
) -> None:
    """Show the policy in force (or one version) as JSON."""
    with reporting_errors(), connection(ctx).client() as client:
        found = client.governance.policy(version)
    _print_version(found)


def set_policy(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The document (JSON)."),
    comment: str | None = typer.Option(None, "--comment", "-m", help="Why it changes."),
    base_version: int | None = typer.Option(
        None, "--base-version", min=1, help="Refuse if the policy moved past this version."
    ),
) -> None:
    """Make FILE (a policy document, JSON) the next version of the policy."""
    try:
        document = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{file} is not JSON: {exc}") from None
    with reporting_errors(), connection(ctx).client() as client:
        made = client.governance.set_policy(document, comment=comment, base_version=base_version)
    console().print(Text(f"policy version {made.version} in force"))


def list_versions(
    ctx: typer.Context, limit: int = typer.Option(20, "--limit", min=1, max=100)
) -> None:
    """List the policy's versions, newest first."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.governance.policy_versions(limit=limit)
    table = _table("VERSION", "CREATED", "BY", "COMMENT")
    for v in page.items:
        table.add_row(
            str(v.version), format_time(v.created_at), v.created_by_key_id or "-", v.comment or ""
        )
    console().print(table)


def _holds_table(holds: list[HoldPublic]) -> Table:
    table = _table("ID", "SCOPE", "KEEPS", "RUNS", "ACTIVE", "CREATED", "REASON")
    for h in holds:
        keeps = h.run_id or h.agent_id or json.dumps(h.query, separators=(",", ":"))
        runs = "-" if h.matched_runs is None else str(h.matched_runs)
        active = "yes" if h.active else "released"
        table.add_row(h.id, h.scope, keeps, runs, active, format_time(h.created_at), h.reason)
    return table


def list_holds(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", help="Released holds too."),
    limit: int = typer.Option(20, "--limit", min=1, max=100),
) -> None:
    """List legal holds (the active ones unless --all)."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.governance.holds(include_released=all_, limit=limit)
    out = console()
    out.print(_holds_table(page.items) if page.items else Text("no holds", style="dim"))


def add_hold(
    ctx: typer.Context,
    reason: str = typer.Option(..., "--reason", help="Why (a case, a matter)."),
    run_id: str | None = typer.Option(None, "--run", help="Hold one run."),
    agent: str | None = typer.Option(None, "--agent", help="Hold every run of an agent."),
    query: str | None = typer.Option(
        None,
        "--query",
        help='Hold the runs a query matches, JSON: {"agent_id", "created_after",'
        ' "created_before", "status"}.',
    ),
) -> None:
    """Put a run, an agent's runs, or the runs a query matches on legal hold."""
    try:
        parsed = None if query is None else json.loads(query)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--query is not JSON: {exc}") from None
    with reporting_errors(), connection(ctx).client() as client:
        made = client.governance.hold(reason, run_id=run_id, agent_id=agent, query=parsed)
    console().print(_holds_table([made]))


def release_hold(ctx: typer.Context, hold_id: str = typer.Argument(..., help="The hold.")) -> None:
    """Release a legal hold."""
    with reporting_errors(), connection(ctx).client() as client:
        done = client.governance.release_hold(hold_id)
    console().print(Text(f"{done.id} released"))


def _deletions_table(rows: list[DeletionRequestPublic]) -> Table:
    table = _table("ID", "RUN", "STATUS", "ASKED", "BY", "REASON")
    for d in rows:
        asked = format_time(d.requested_at)
        table.add_row(d.id, d.run_id, d.status, asked, d.requested_by_key_id or "-", d.reason)
    return table


def list_deletions(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="pending, approved or rejected."),
) -> None:
    """List deletion requests that the policy made wait for a second admin."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.governance.deletions(status=status)
    out = console()
    out.print(_deletions_table(page.items) if page.items else Text("none", style="dim"))


def _decider(approve: bool) -> Callable[..., None]:
    verb, outcome = ("approved", "deleted") if approve else ("rejected", "stays")

    def decide(
        ctx: typer.Context,
        request_id: str = typer.Argument(..., help="The deletion request."),
        comment: str | None = typer.Option(None, "--comment", "-m"),
    ) -> None:
        with reporting_errors(), connection(ctx).client() as client:
            calls = client.governance
            act = calls.approve_deletion if approve else calls.reject_deletion
            done = act(request_id, comment=comment)
        console().print(Text(f"{done.id} {verb}: run {done.run_id} {outcome}"))

    decide.__doc__ = (
        "Approve a deletion request (not your own): the run is deleted, its tombstone kept."
        if approve
        else "Reject a deletion request: the run stays."
    )
    return decide


def list_tombstones(
    ctx: typer.Context, limit: int = typer.Option(20, "--limit", min=1, max=100)
) -> None:
    """List deleted runs' tombstones, most recently deleted first."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.governance.tombstones(limit=limit)
    table = _table("RUN", "STATUS", "EVENTS", "DELETED", "BY", "REASON")
    for t in page.items:
        deleted = format_time(t.deleted_at)
        table.add_row(t.run_id, t.status, str(t.last_seq), deleted, t.deleted_by, t.reason)
    console().print(table)


def register(app: typer.Typer) -> None:
    """Add the ``governance`` group: ``policy``, ``holds``, ``deletions``, ``tombstones``,
    ``activity``."""
    group = typer.Typer(
        help="Audit & governance: policy, legal holds, deletions, activity.", no_args_is_help=True
    )
    policy = typer.Typer(help="The governance policy and its versions.", no_args_is_help=True)
    policy.command("show")(show_policy)
    policy.command("set")(set_policy)
    policy.command("versions")(list_versions)
    holds = typer.Typer(help="Legal holds.", no_args_is_help=True)
    holds.command("ls")(list_holds)
    holds.command("add")(add_hold)
    holds.command("release")(release_hold)
    deletions = typer.Typer(help="Deletions awaiting a second admin.", no_args_is_help=True)
    deletions.command("ls")(list_deletions)
    deletions.command("approve")(_decider(True))
    deletions.command("reject")(_decider(False))
    group.add_typer(policy, name="policy")
    group.add_typer(holds, name="holds")
    group.add_typer(deletions, name="deletions")
    group.command("tombstones")(list_tombstones)
    group.command("activity")(activity)
    app.add_typer(group, name="governance")
