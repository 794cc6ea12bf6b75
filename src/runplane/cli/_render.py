"""How runs, steps and events look on a terminal (and in a pipe)."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from runplane.domain.events import (
    approval_asks,
    compact,
    describe_event,
    plan_steps,
    plan_summary,
)
from runplane.schemas import (
    ApprovalPublic,
    ConnectionPublic,
    EventPublic,
    RunPublic,
    RunResult,
    StepPublic,
    ToolPublic,
)

STATUS_STYLES = {
    "queued": "dim",
    "running": "cyan",
    "paused": "yellow",
    "auth_required": "yellow",
    "succeeded": "green",
    "completed": "green",
    "reused": "green dim",
    "failed": "red",
    "canceled": "magenta",
    "pending": "yellow",
    "approved": "green",
    "rejected": "red",
}
EXIT_CODES = {"succeeded": 0, "failed": 1, "canceled": 3}
WAITING = ("paused", "auth_required")
SUMMARY_LENGTH = 160
ASKS_LENGTH = 48


ID_WIDTH = 30  # run_… and apr_… ids are 30 characters


def status_text(status: str) -> Text:
    """A status word in its colour."""
    return Text(status, style=STATUS_STYLES.get(status, ""))


def run_line(run: RunPublic) -> Text:
    """``<run id> <status>``: the one line that names a run."""
    return Text.assemble(run.id, " ", status_text(run.status))


def format_time(moment: datetime | None) -> str:
    """A timestamp to the second, or an empty string."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def format_duration(started: datetime | None, finished: datetime | None) -> str:
    """``1.2s`` or ``3m 04s`` between two moments, or an empty string."""
    if started is None or finished is None:
        return ""
    seconds = max(0.0, (finished - started).total_seconds())
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m {rest:02d}s"


def runs_table(runs: Iterable[RunPublic]) -> Table:
    """A table of runs: id, agent, name, status, steps, creation time."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("ID", no_wrap=True, min_width=ID_WIDTH)
    table.add_column("AGENT", no_wrap=True)
    table.add_column("NAME")
    table.add_column("STATUS", no_wrap=True)
    table.add_column("STEPS", justify="right", no_wrap=True)
    table.add_column("CREATED", no_wrap=True)
    for run in runs:
        table.add_row(
            run.id,
            run.agent_name,
            run.name or "",
            status_text(run.status),
            f"{run.steps_finished}/{run.step_count}" if run.step_count else str(run.steps_finished),
            format_time(run.created_at),
        )
    return table


def _liveness(run: RunPublic) -> Text | None:
    """A running run's liveness, with its last progress; a stuck one says how to repair it."""
    if run.liveness is None:
        return None
    style = {"working": "green", "stalled": "yellow", "lost": "red"}[run.liveness]
    text = Text(run.liveness, style=style)
    if run.last_progress_at is not None:
        text.append(f" (last progress {format_time(run.last_progress_at)})")
    if run.liveness != "working":
        text.append(f"; runplane runs repair {run.id} --resume|--fail --reason TEXT")
    return text


def run_details(run: RunPublic) -> Table:
    """A two-column grid of a run's fields."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    rows: list[tuple[str, str | Text | None]] = [
        ("id", run.id),
        ("agent", f"{run.agent_name} ({run.agent_id})"),
        ("revision", run.revision_id),
        ("name", run.name),
        ("status", status_text(run.status)),
        ("liveness", _liveness(run)),
        ("trigger", run.trigger),
        ("steps", f"{run.steps_finished} finished of {run.step_count}"),
        ("parent", run.parent_run_id),
        ("rerun of", f"{run.rerun_of} from step {run.from_step}" if run.rerun_of else None),
        ("archived", "yes" if run.archived else None),
        ("created", format_time(run.created_at)),
        ("started", format_time(run.started_at)),
        ("finished", format_time(run.finished_at)),
        ("input", compact(run.input) if run.input is not None else None),
        ("variables", compact(run.variables) if run.variables else None),
        ("user", run.user_id),
        ("approval", run.approval if run.approval != "NONE" else None),
        ("waiting on", compact(run.waiting_on) if run.waiting_on else None),
        ("plan", plan_summary(run.plan) if run.plan else None),
    ]
    for name, value in rows:
        if value:
            grid.add_row(name, _plain(value))
    return grid


def steps_table(steps: Iterable[StepPublic]) -> Table:
    """A table of steps: number, name, status, duration; and model, tokens, credits if any."""
    steps = list(steps)
    models = any(step.model is not None for step in steps)
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("STEP")
    table.add_column("STATUS", no_wrap=True)
    table.add_column("DURATION", justify="right", no_wrap=True)
    if models:
        for title in ("MODEL", "EFFORT", "TOKENS IN/OUT", "CREDITS"):
            table.add_column(title, justify="left" if title != "CREDITS" else "right")
    for step in steps:
        duration = format_duration(step.started_at, step.finished_at)
        row: list[str | Text] = [str(step.number), step.name, status_text(step.status), duration]
        if models:
            usage = step.usage
            row += [
                step.model or "",
                step.reasoning_effort or "",
                f"{usage.input_tokens}/{usage.output_tokens}" if usage else "",
                f"{step.credits:.4f}" if step.credits is not None else "",
            ]
        table.add_row(*row)
    return table


def event_line(event: EventPublic) -> Text:
    """``<seq> <type> <summary>`` for one event."""
    style = "red" if event.type in ("error", "step.failed") else ""
    if event.type in ("approval.required", "auth.required"):
        style = "yellow"
    line = Text.assemble(
        (f"{event.seq:>4} ", "dim"),
        (f"{event.type:<17} ", "bold"),
        (describe_event(event.type, event.data, SUMMARY_LENGTH), style),
    )
    line.no_wrap, line.overflow = True, "ellipsis"
    return line


def print_result(out: Console, result: RunResult | None) -> None:
    """Print a run's result: a document as Markdown, JSON pretty-printed, then its sources."""
    if result is None:
        out.print(Text("(no result)", style="dim"))
        return
    shown = ""
    if result.type == "json":
        out.print_json(data=result.content)
    else:
        shown = result.content if isinstance(result.content, str) else compact(result.content)
        if out.is_terminal:
            out.print(Markdown(shown))
        else:
            out.print(shown, markup=False, highlight=False, soft_wrap=True)
    for source in result.sources:
        if not _cited(source, shown):
            title = source.get("title") or source.get("url") or compact(source)
            url = f" {source['url']}" if source.get("url") and source.get("title") else ""
            out.print(Text(f"- {title}{url}", style="dim"), soft_wrap=True)


def print_outcome(out: Console, run: RunPublic) -> None:
    """Print how an ended run ended: its line, then its result or its error."""
    out.print(run_line(run))
    if run.status == "succeeded":
        print_result(out, run.result)
    elif run.error is not None:
        where = f" (step {run.error.step})" if run.error.step is not None else ""
        out.print(Text(f"{run.error.code}: {run.error.message}{where}", style="red"))
    elif run.cancel_receipt is not None and run.cancel_receipt.step is not None:
        out.print(Text(f"stopped during step {run.cancel_receipt.step}", style="magenta"))


def _cited(source: dict[str, Any], document: str) -> bool:
    return bool(document) and any(
        source.get(key) and str(source[key]) in document for key in ("url", "title")
    )


# -- approvals, connections, tools ------------------------------------------------------


def approve_command(approval_id: str) -> str:
    """The command that approves an approval."""
    return f"runplane approvals approve {approval_id}"


def connect_command(user_id: str, integration: str) -> str:
    """The command that gives a user's credential for an integration."""
    return f"runplane connections set {user_id} {integration} --secret …"


def event_notes(event: EventPublic) -> list[Text]:
    """The lines under an event that tell a person what to do (waits only)."""
    data = event.data
    if event.type == "approval.required":
        approval_id = str(data.get("approval_id"))
        notes = [
            f"approve: {approve_command(approval_id)}",
            f"reject:  runplane approvals reject {approval_id} --comment …",
        ]
        # The event names the approval, not its link: `approvals show` gives the link
        # to keys allowed to decide.
        notes.append(f"link:    runplane approvals show {approval_id}")
        if data.get("expires_at"):
            notes.append(f"expires: {data['expires_at']} ({data.get('default_action')} then)")
        return [_note(line) for line in notes]
    if event.type == "auth.required":
        command = connect_command(str(data.get("user_id")), str(data.get("integration")))
        return [_note(f"connect: {command}")]
    if event.type == "budget.exceeded":
        unit = data.get("unit")
        return [_note(f"approve: runplane budgets approve {event.run_id} --{unit} …")]
    if event.type == "status" and data.get("status") in WAITING:
        return [_note(waiting_hint(data.get("waiting_on") or {}), style="yellow dim")]
    return []


def waiting_hint(waiting_on: dict[str, Any]) -> str:
    """One line on what a waiting run waits for, and that the watch goes on."""
    if waiting_on.get("approval_id"):
        what = f"waits for a decision on {waiting_on['approval_id']}"
    elif waiting_on.get("integration"):
        what = f"waits for {waiting_on.get('user_id')} to connect {waiting_on['integration']}"
    elif waiting_on.get("kind") == "budget":
        need = waiting_on.get("budget") or {}
        what = f"waits for its {need.get('scope')} budget ({need.get('unit')}) to be raised"
    else:
        what = "waits"
    return f"the run {what}; still following until it ends (Ctrl-C stops following)"


def print_plan(out: Console, run: RunPublic) -> None:
    """Print a run's plan, and the command that approves it when the run waits for that."""
    if run.plan is None:
        return
    out.print(Text("plan:", style="bold"))
    steps = plan_steps(run.plan)
    content = run.plan.get("content")
    if steps is not None:
        for line in steps or ["(no step)"]:
            out.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    elif isinstance(content, str):
        out.print(content, markup=False, highlight=False, soft_wrap=True)
    else:
        out.print_json(data=content)
    approval_id = (run.waiting_on or {}).get("approval_id")
    if run.status == "paused" and approval_id:
        out.print(_note(f"approve: {approve_command(approval_id)}", indent=""), soft_wrap=True)


def approvals_table(approvals: Iterable[ApprovalPublic]) -> Table:
    """A table of approvals: id, run, kind, what is asked, status, creation time."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    # Ids are copied into the next command: the ASKS column gives way, never they.
    table.add_column("ID", no_wrap=True, min_width=ID_WIDTH)
    table.add_column("RUN", no_wrap=True, min_width=ID_WIDTH)
    table.add_column("KIND", no_wrap=True, min_width=9)
    table.add_column("ASKS", no_wrap=True, overflow="ellipsis", max_width=ASKS_LENGTH, ratio=1)
    table.add_column("STATUS", no_wrap=True, min_width=8)
    table.add_column("CREATED", no_wrap=True, min_width=19)
    for approval in approvals:
        table.add_row(
            approval.id,
            approval.run_id,
            approval.kind,
            Text(approval_asks(approval.kind, approval.request)),
            status_text(approval.status),
            format_time(approval.created_at),
        )
    return table


def approval_details(approval: ApprovalPublic) -> Table:
    """A two-column grid of an approval's fields."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    request = approval.request
    rows: list[tuple[str, str | Text | None]] = [
        ("id", approval.id),
        ("run", approval.run_id),
        ("kind", approval.kind),
        ("status", status_text(approval.status)),
        ("asks", approval_asks(approval.kind, request)),
        ("integration", request.get("integration")),
        ("reason", request.get("reason")),
        ("created", format_time(approval.created_at)),
        ("expires", format_time(approval.expires_at)),
        ("then", approval.default_action if approval.expires_at else None),
        ("decision", approval.decision),
        ("arguments", compact(approval.arguments) if approval.arguments is not None else None),
        ("comment", approval.comment),
        ("decided by", approval.decided_by),
        ("decided via", approval.decided_via),
        ("decided", format_time(approval.decided_at)),
    ]
    for name, value in rows:
        if value:
            grid.add_row(name, _plain(value))
    return grid


def decided_line(approval: ApprovalPublic) -> Text:
    """``<approval id> <status>`` and what becomes of its run."""
    if approval.status == "approved":
        then = f"run {approval.run_id} resumes"
    elif approval.kind == "plan" or approval.decision == "fail":
        then = f"run {approval.run_id} ends"
    else:
        then = f"run {approval.run_id} resumes without the call"
    return Text.assemble(approval.id, " ", status_text(approval.status), (f" ({then})", "dim"))


def connections_table(connections: Iterable[ConnectionPublic]) -> Table:
    """A table of a user's connections: integration, creation and update times."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("INTEGRATION", no_wrap=True)
    table.add_column("USER", no_wrap=True)
    table.add_column("CREATED", no_wrap=True)
    table.add_column("UPDATED", no_wrap=True)
    for connection in connections:
        table.add_row(
            connection.integration,
            connection.user_id,
            format_time(connection.created_at),
            format_time(connection.updated_at),
        )
    return table


def tools_table(tools: Iterable[ToolPublic]) -> Table:
    """A table of tools: name, integration, what they need, their arguments and description."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("TOOL", no_wrap=True)
    table.add_column("INTEGRATION", no_wrap=True)
    table.add_column("NEEDS", no_wrap=True)
    table.add_column("ARGUMENTS")
    table.add_column("DESCRIPTION")
    for tool in tools:
        needs = [
            "connection" if tool.requires_auth else "",
            "approval" if tool.always_approve else "",
            f"≤{tool.rate_limit}" if tool.rate_limit else "",
        ]
        table.add_row(
            tool.name,
            tool.integration or "",
            " ".join(n for n in needs if n),
            Text(", ".join(_arguments(tool.parameters))),
            Text(tool.description),
        )
    return table


def _arguments(schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required") or [])
    return [name if name in required else f"[{name}]" for name in (schema.get("properties") or {})]


def _plain(value: str | Text) -> Text:
    """A value shown as it is: text in square brackets is not Rich markup here."""
    return value if isinstance(value, Text) else Text(value)


def _note(line: str, style: str = "yellow", indent: str = "       ") -> Text:
    return Text(indent + line, style=style)
