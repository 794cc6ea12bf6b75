"""``runplane approvals ls|show|approve|reject|link|revoke-link``: the decisions runs wait for."""

from enum import StrEnum
from typing import Any

import typer
from rich.text import Text

from runplane.cli._context import connection, console, parse_json, reporting_errors
from runplane.cli._render import (
    approval_details,
    approvals_table,
    approve_command,
    decided_line,
    format_time,
)


class ApprovalStatus(StrEnum):
    """The statuses approvals can be listed by (``all``: any)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELED = "canceled"
    ALL = "all"


def list_approvals(
    ctx: typer.Context,
    run: str | None = typer.Option(None, "--run", help="Only this run's approvals."),
    status: ApprovalStatus = typer.Option(
        ApprovalStatus.PENDING, "--status", help="Only approvals in this status."
    ),
    limit: int = typer.Option(20, "--limit", min=1, max=100, help="How many to show."),
) -> None:
    """List approvals, newest first (pending ones unless --status says otherwise)."""
    chosen = None if status is ApprovalStatus.ALL else status.value
    with reporting_errors(), connection(ctx).client() as client:
        page = client.approvals.list(run_id=run, status=chosen, limit=limit)
    out = console()
    if not page.items:
        out.print(Text(f"no {chosen} approvals" if chosen else "no approvals", style="dim"))
        return
    out.print(approvals_table(page.items))
    if page.continuation_token:
        more = f"(the newest {len(page.items)}; more with --limit)"
        console(stderr=True).print(Text(more, style="dim"))


def show_approval(
    ctx: typer.Context, approval_id: str = typer.Argument(..., help="The approval's id.")
) -> None:
    """Show an approval: what it asks, and how (and by whom) it was decided."""
    with reporting_errors(), connection(ctx).client() as client:
        approval = client.approvals.get(approval_id)
    out = console()
    out.print(approval_details(approval))
    if approval.status == "pending":
        out.print()
        out.print(Text(f"approve: {approve_command(approval.id)}", style="yellow"), soft_wrap=True)
        reject = f"reject:  runplane approvals reject {approval.id} --comment …"
        out.print(Text(reject, style="yellow"), soft_wrap=True)
    if approval.link:  # shown to keys allowed to decide only; one line, never wrapped
        until = format_time(approval.link_expires_at)
        out.print(Text(f"link:    {approval.link}", style="yellow"), soft_wrap=True)
        out.print(Text(f"         (works once, until {until})", style="dim"), soft_wrap=True)


def approve(
    ctx: typer.Context,
    approval_id: str = typer.Argument(..., help="The approval's id."),
    comment: str | None = typer.Option(None, "--comment", help="Why (kept with the decision)."),
    arguments_json: str | None = typer.Option(
        None, "--arguments", help="A tool call's arguments to use instead (a JSON object)."
    ),
) -> None:
    """Approve; the run resumes at once (with the edited --arguments if given)."""
    arguments: dict[str, Any] | None = None
    if arguments_json is not None:
        arguments = parse_json(arguments_json, "--arguments")
        if not isinstance(arguments, dict):
            raise typer.BadParameter("must be a JSON object", param_hint="--arguments")
    with reporting_errors(), connection(ctx).client() as client:
        approval = client.approvals.approve(approval_id, comment=comment, arguments=arguments)
    console().print(decided_line(approval), soft_wrap=True)


def reject(
    ctx: typer.Context,
    approval_id: str = typer.Argument(..., help="The approval's id."),
    comment: str | None = typer.Option(
        None, "--comment", help="Why; the agent is told (kept with the decision)."
    ),
) -> None:
    """Reject; the agent is told the call was rejected (a rejected plan cancels the run)."""
    with reporting_errors(), connection(ctx).client() as client:
        approval = client.approvals.reject(approval_id, comment=comment)
    console().print(decided_line(approval), soft_wrap=True)


def new_link(
    ctx: typer.Context, approval_id: str = typer.Argument(..., help="The approval's id.")
) -> None:
    """Give a pending approval a new link (the previous one stops working); print it once."""
    with reporting_errors(), connection(ctx).client() as client:
        made = client.approvals.new_link(approval_id)
    console().print(Text(made.link), soft_wrap=True)


def revoke_link(
    ctx: typer.Context, approval_id: str = typer.Argument(..., help="The approval's id.")
) -> None:
    """Revoke a pending approval's link; the approval stays pending."""
    with reporting_errors(), connection(ctx).client() as client:
        approval = client.approvals.revoke_link(approval_id)
    console().print(Text(f"{approval.id}: link revoked (still {approval.status})"))


def register(app: typer.Typer) -> None:
    """Add the ``approvals`` group to the root command."""
    group = typer.Typer(
        help="List, inspect, approve and reject what runs wait for.", no_args_is_help=True
    )
    group.command("ls")(list_approvals)
    group.command("show")(show_approval)
    group.command("approve")(approve)
    group.command("reject")(reject)
    group.command("link")(new_link)
    group.command("revoke-link")(revoke_link)
    app.add_typer(group, name="approvals")
