"""``runplane run`` and ``runplane runs ls|show|cancel|rerun|repair``: runs through the API."""

from enum import StrEnum
from typing import Any

import typer
from rich.text import Text

from runplane.cli._context import (
    connection,
    console,
    parse_json,
    parse_variables,
    reporting_errors,
)
from runplane.cli._render import (
    EXIT_CODES,
    print_outcome,
    print_plan,
    run_details,
    run_line,
    runs_table,
    steps_table,
)
from runplane.cli._watch import follow_run
from runplane.cli.files import register as register_file_commands
from runplane.client import Client
from runplane.schemas import RunPublic

INTERRUPTED = 130


class StatusName(StrEnum):
    """The statuses a run can be listed by."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    AUTH_REQUIRED = "auth_required"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class LivenessName(StrEnum):
    """The liveness a running run can be listed by."""

    WORKING = "working"
    STALLED = "stalled"
    LOST = "lost"


class Approval(StrEnum):
    """When a run asks a person: never, once for its plan, or before each tool call."""

    NONE = "NONE"
    ON_START = "ON_START"
    ON_TOOL_CALL = "ON_TOOL_CALL"


def parse_integrations(text: str) -> list[str] | str:
    """``*`` (every integration the agent may use) or a comma-separated list of names."""
    if text.strip() == "*":
        return "*"
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise typer.BadParameter("name integrations as a,b or *", param_hint="--integrations")
    return names


def start_run(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="The agent's id or name."),
    input_json: str | None = typer.Option(None, "--input", "-i", help="The run's input, as JSON."),
    name: str | None = typer.Option(None, "--name", help="A name for the run."),
    var: list[str] | None = typer.Option(
        None,
        "--var",
        help="A variable as key=value (the value is read as JSON when it parses); repeatable.",
    ),
    approval: Approval | None = typer.Option(
        None,
        "--approval",
        case_sensitive=False,
        help="Ask a person: never, to approve the plan, or before each tool call.",
    ),
    user: str | None = typer.Option(
        None, "--user", help="The user the run acts as (tools that need a connection use theirs)."
    ),
    integrations: str | None = typer.Option(
        None, "--integrations", help="The integrations the run may use: a,b or * for all."
    ),
    context_json: str | None = typer.Option(
        None, "--context", help="Facts for the agent (a JSON object), e.g. who 'the team' is."
    ),
    file: list[str] | None = typer.Option(
        None, "--file", help="A file (fil_…) for the agent to read; repeatable."
    ),
    site: list[str] | None = typer.Option(
        None, "--site", help="A site (id or name) whose files the agent reads; repeatable."
    ),
    step: list[str] | None = typer.Option(
        None,
        "--step",
        help="A step agent's step on another model: STEP=MODEL, STEP=MODEL:EFFORT or "
        "STEP=:EFFORT; repeatable.",
    ),
    wait: bool = typer.Option(False, "--wait", help="Wait for the run to end; print its result."),
    watch: bool = typer.Option(False, "--watch", help="Follow the run live; print its result."),
) -> None:
    """Start a run of AGENT and print its id and status (and its plan, with --approval ON_START).

    With --wait or --watch it lasts as long as the run, through its pauses for approvals and
    connections; its exit code then tells how it ended: 0 succeeded, 1 failed, 3 canceled
    (1 also for an API or connection error).
    """
    payload = parse_json(input_json, "--input") if input_json is not None else None
    variables = parse_variables(var or [])
    context = parse_json(context_json, "--context") if context_json is not None else None
    if context is not None and not isinstance(context, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--context")
    fields: dict[str, Any] = {
        "name": name,
        "variables": variables or None,
        "approval": approval.value if approval else None,
        "user_id": user,
        "integrations": parse_integrations(integrations) if integrations is not None else None,
        "context": context,
        "file_ids": file or None,
        "site_ids": site or None,
        "step_overrides": parse_step_overrides(step or []) or None,
    }
    with reporting_errors(), connection(ctx).client() as client:
        run = client.runs.create(
            agent, payload, **{key: value for key, value in fields.items() if value is not None}
        )
        see_through(client, run, watch=watch, wait=wait)


EFFORTS = ("minimal", "low", "medium", "high")


def parse_step_overrides(pairs: list[str]) -> dict[str, dict[str, str]]:
    """Read ``STEP=MODEL[:EFFORT]`` pairs (``STEP=:EFFORT`` keeps the model)."""
    overrides: dict[str, dict[str, str]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        # Model names may hold colons (llama3:8b): only a known effort is split off.
        model, colon, effort = value.rpartition(":")
        if not colon or effort not in EFFORTS:
            model, effort = value, ""
        if not sep or not name or not (model or effort):
            raise typer.BadParameter(f"{pair!r} is not STEP=MODEL[:EFFORT]", param_hint="--step")
        chosen = {"model": model, "reasoning_effort": effort}
        overrides[name] = {k: v for k, v in chosen.items() if v}
    return overrides


def see_through(client: Client, run: RunPublic, *, watch: bool, wait: bool) -> None:
    """Print a new run (and its plan); with ``watch`` or ``wait``, follow it to its end."""
    out = console()
    try:
        if watch:
            ended = follow_run(client, run, out)
        else:
            out.print(run_line(run))
            print_plan(out, run)
            if not wait:
                return
            ended = client.runs.wait(run.id)
            print_outcome(out, ended)
    except KeyboardInterrupt:
        hint = f"stopped following {run.id}; it goes on (runplane runs cancel {run.id} stops it)"
        console(stderr=True).print(Text(hint, style="yellow"), soft_wrap=True)
        raise typer.Exit(INTERRUPTED) from None
    raise typer.Exit(EXIT_CODES.get(ended.status, 1))


def list_runs(
    ctx: typer.Context,
    agent: str | None = typer.Option(None, "--agent", help="Only this agent's runs."),
    status: StatusName | None = typer.Option(None, "--status", help="Only runs in this status."),
    liveness: LivenessName | None = typer.Option(
        None, "--liveness", help="Only running runs that are working, stalled or lost."
    ),
    limit: int = typer.Option(20, "--limit", min=1, max=100, help="How many runs to show."),
    archived: bool = typer.Option(False, "--archived", help="List archived runs instead."),
) -> None:
    """List runs, newest first."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.runs.list(
            agent_id=agent,
            status=status.value if status else None,
            liveness=liveness.value if liveness else None,
            archived=archived,
            limit=limit,
        )
    out = console()
    if not page.items:
        out.print(Text("no runs", style="dim"))
        return
    out.print(runs_table(page.items))
    if page.continuation_token:
        more = f"(the newest {len(page.items)}; more with --limit)"
        console(stderr=True).print(Text(more, style="dim"))


def show_run(ctx: typer.Context, run_id: str = typer.Argument(..., help="The run's id.")) -> None:
    """Show a run: its fields, its steps, and its result or error."""
    with reporting_errors(), connection(ctx).client() as client:
        run = client.runs.get(run_id)
        steps = client.runs.steps(run_id)
    out = console()
    out.print(run_details(run))
    if steps.items:
        out.print()
        out.print(steps_table(steps.items))
    if run.status in EXIT_CODES:
        out.print()
        print_outcome(out, run)


def cancel_run(ctx: typer.Context, run_id: str = typer.Argument(..., help="The run's id.")) -> None:
    """Ask a run to stop; it becomes canceled shortly after."""
    with reporting_errors(), connection(ctx).client() as client:
        run = client.runs.cancel(run_id)
    console().print(Text.assemble(run_line(run), " (cancel requested)"))


def delete_run(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="The run's id."),
    reason: str | None = typer.Option(None, "--reason", help="Why (kept in its tombstone)."),
) -> None:
    """Delete an ended run if the policy permits it (or ask for the approval it needs)."""
    with reporting_errors(), connection(ctx).client() as client:
        asked = client.runs.delete(run_id, reason=reason)
    if asked is None:
        console().print(Text(f"{run_id} deleted (its tombstone is kept)"))
    else:
        console().print(Text(f"{run_id}: deletion request {asked.id} waits for another admin"))


def rerun_run(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="The run to run again."),
    from_step: int | None = typer.Option(
        None, "--from-step", min=1, help="Reuse the steps before this one."
    ),
    wait: bool = typer.Option(False, "--wait", help="Wait for the new run to end."),
    watch: bool = typer.Option(False, "--watch", help="Follow the new run live."),
) -> None:
    """Start a new run like RUN_ID, and print its id and status.

    With --wait or --watch it lasts as long as the new run; its exit code then tells how it
    ended: 0 succeeded, 1 failed, 3 canceled (1 also for an API or connection error).
    """
    with reporting_errors(), connection(ctx).client() as client:
        run = client.runs.rerun(run_id, from_step=from_step)
        see_through(client, run, watch=watch, wait=wait)


def repair_run(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="The stalled or lost run."),
    resume: bool = typer.Option(False, "--resume", help="Hand it back to a live worker."),
    fail: bool = typer.Option(False, "--fail", help="End it failed, the reason its error."),
    reason: str = typer.Option(..., "--reason", help="Why (kept in its log and the activity)."),
) -> None:
    """Repair a stalled or lost run (admin keys): resume it on a live worker, or fail it."""
    if resume == fail:
        raise typer.BadParameter("say --resume or --fail (one of them)", param_hint="--resume")
    with reporting_errors(), connection(ctx).client() as client:
        run = client.runs.repair(run_id, "resume" if resume else "fail", reason)
    done = "handed back to the queue" if resume else "failed"
    console().print(Text.assemble(run_line(run), f" ({done})"))


def register(app: typer.Typer) -> None:
    """Add ``run``, the ``runs`` group (with ``runs files``), ``sites`` and ``files``."""
    app.command("run")(start_run)
    group = typer.Typer(
        help="List, inspect, cancel, rerun, repair and delete runs.", no_args_is_help=True
    )
    group.command("ls")(list_runs)
    group.command("show")(show_run)
    group.command("cancel")(cancel_run)
    group.command("rerun")(rerun_run)
    group.command("repair")(repair_run)
    group.command("delete")(delete_run)
    app.add_typer(group, name="runs")
    register_file_commands(app, group)
