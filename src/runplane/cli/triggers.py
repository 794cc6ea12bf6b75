"""``runplane triggers create|ls|show|enable|disable|pause|resume|rm``: schedules, signed
webhooks and uploads into a site that start runs of an agent, through the API."""

import json
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from runplane.cli._context import connection, console, reporting_errors
from runplane.cli._render import format_time
from runplane.schemas import TriggerPublic


class Kind(StrEnum):
    """What starts the runs."""

    SCHEDULE = "schedule"
    WEBHOOK = "webhook"
    UPLOAD = "upload"


class CatchUp(StrEnum):
    """What becomes of a tick missed while every process was down."""

    ONCE = "once"
    SKIP = "skip"


def _json(value: str | None, flag: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        raise typer.BadParameter(f"{flag} is not JSON: {value!r}") from None


def _mapping(pairs: list[str]) -> dict[str, str] | None:
    found: dict[str, str] = {}
    for pair in pairs:
        field, sep, pointer = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"--map takes FIELD=/json/pointer, not {pair!r}")
        found[field] = pointer
    return found or None


def create(
    ctx: typer.Context,
    kind: Kind = typer.Argument(..., help="schedule, webhook or upload."),
    agent: str = typer.Argument(..., help="The agent its runs run (id or name)."),
    schedule: str | None = typer.Option(
        None, "--schedule", help="Cron: 5 fields, or 6 with seconds first ('*/10 * * * * *')."
    ),
    timezone: str | None = typer.Option(None, "--timezone", help="IANA time zone (UTC)."),
    catch_up: CatchUp = typer.Option(
        CatchUp.ONCE, "--catch-up", help="A missed tick: once or skip."
    ),
    start_at: str | None = typer.Option(
        None, "--start-at", help="RFC 3339: first tick not before."
    ),
    end_at: str | None = typer.Option(None, "--end-at", help="RFC 3339: no tick after."),
    input_json: str | None = typer.Option(None, "--input", help="Default input (JSON)."),
    variables: str | None = typer.Option(None, "--variables", help="Variables (a JSON object)."),
    mapping: list[str] = typer.Option(
        [], "--map", help="Webhook: FIELD=/json/pointer into the body (repeatable)."
    ),
    site: str | None = typer.Option(
        None, "--site", help="Upload: the site (id or name) whose new files start runs."
    ),
    glob: str | None = typer.Option(None, "--glob", help="Upload: file names ('*.csv')."),
    media_type: str | None = typer.Option(
        None, "--media-type", help="Upload: media type, exact or 'text/*'."
    ),
    name: str | None = typer.Option(None, "--name", help="A name (also its runs' name)."),
    revision: str | None = typer.Option(None, "--revision", help="Pin a revision (rev_…)."),
    disabled: bool = typer.Option(False, "--disabled", help="Make it disabled."),
) -> None:
    """Make a trigger; a webhook's URL and secret are printed (the secret only now)."""
    fields: dict[str, Any] = {
        "name": name,
        "revision_id": revision,
        "input": _json(input_json, "--input"),
        "variables": _json(variables, "--variables"),
        "enabled": not disabled,
    }
    if kind is Kind.SCHEDULE:
        fields.update(
            schedule=schedule,
            timezone=timezone,
            catch_up=catch_up.value,
            start_at=start_at,
            end_at=end_at,
        )
    elif kind is Kind.WEBHOOK:
        fields["mapping"] = _mapping(mapping)
    else:
        fields.update(site_id=site, glob=glob, media_type=media_type)
    with reporting_errors(), connection(ctx).client() as client:
        made = client.triggers.create(
            kind.value, agent, **{k: v for k, v in fields.items() if v is not None}
        )
    console().print(trigger_details(made))
    if made.secret:
        console(stderr=True).print(
            Text("the webhook secret, shown only now:", style="green"), soft_wrap=True
        )
        console().print(made.secret, markup=False, highlight=False, soft_wrap=True)


def triggers_table(triggers: Iterable[TriggerPublic]) -> Table:
    """A table of triggers: id, kind, agent, state, when (schedule, upload), next fire,
    last run."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "KIND", "AGENT", "STATE", "WHEN", "NEXT FIRE", "LAST RUN", "NAME"):
        table.add_column(column, no_wrap=column != "NAME")
    for t in triggers:
        table.add_row(
            t.id,
            t.kind,
            t.agent_id,
            _state(t),
            _when(t),
            format_time(t.next_fire_at),
            t.last_run_id or "",
            t.name or "",
        )
    return table


def _when(t: TriggerPublic) -> str:
    if t.schedule:
        return f"{t.schedule} ({t.timezone})"
    if t.kind == "upload":
        return f"upload of {t.glob or '*'} {t.media_type or ''}".rstrip()
    return ""


def _state(t: TriggerPublic) -> str:
    if not t.enabled:
        return "disabled"
    return "paused" if t.paused else "enabled"


def trigger_details(t: TriggerPublic) -> Table:
    """One trigger, field by field, with a schedule's next fire times or a webhook's URL."""
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    rows: list[tuple[str, str]] = [
        ("id", t.id),
        ("kind", t.kind),
        ("agent", t.agent_id),
        ("state", _state(t)),
        ("name", t.name or ""),
        ("input", json.dumps(t.input)),
        ("variables", json.dumps(t.variables)),
    ]
    if t.kind == "schedule":
        rows += [
            ("schedule", f"{t.schedule} ({t.timezone}); catch-up: {t.catch_up}"),
            ("next fire", ", ".join(format_time(x) for x in t.next_fire_times) or "none"),
        ]
    if t.hook_url:
        rows += [("hook", t.hook_url), ("mapping", json.dumps(t.mapping or {}))]
    if t.kind == "upload":
        rows += [
            ("site", t.site_id or ""),
            ("glob", t.glob or "* (any name)"),
            ("media type", t.media_type or "any"),
        ]
    rows += [("last run", t.last_run_id or ""), ("created", format_time(t.created_at))]
    for label, value in rows:
        table.add_row(label, Text(value))
    return table


def list_triggers(
    ctx: typer.Context,
    kind: Kind | None = typer.Option(None, "--kind", help="Only this kind."),
    agent: str | None = typer.Option(None, "--agent", help="Only this agent's."),
    limit: int = typer.Option(100, "--limit", min=1, max=100, help="How many."),
) -> None:
    """List the tenant's triggers."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.triggers.list(kind=kind.value if kind else None, agent=agent, limit=limit)
    console().print(triggers_table(page.items))


TRIGGER_ID = typer.Argument(..., help="The trigger's id (trg_…).")


def show(ctx: typer.Context, trigger_id: str = TRIGGER_ID) -> None:
    """Show a trigger: its next five fire times, or its webhook URL."""
    with reporting_errors(), connection(ctx).client() as client:
        found = client.triggers.get(trigger_id)
    console().print(trigger_details(found))


def _act(ctx: typer.Context, trigger_id: str, action: str) -> None:
    with reporting_errors(), connection(ctx).client() as client:
        done = getattr(client.triggers, action)(trigger_id)
    console().print(Text.assemble(f"{trigger_id} ", (_state(done), "magenta")))


def enable(ctx: typer.Context, trigger_id: str = TRIGGER_ID) -> None:
    """Enable a trigger."""
    _act(ctx, trigger_id, "enable")


def disable(ctx: typer.Context, trigger_id: str = TRIGGER_ID) -> None:
    """Disable a trigger: it starts no run until enabled."""
    _act(ctx, trigger_id, "disable")


def pause(ctx: typer.Context, trigger_id: str = TRIGGER_ID) -> None:
    """Pause a schedule."""
    _act(ctx, trigger_id, "pause")


def resume(ctx: typer.Context, trigger_id: str = TRIGGER_ID) -> None:
    """Resume a paused schedule from its next tick after now."""
    _act(ctx, trigger_id, "resume")


def remove(ctx: typer.Context, trigger_id: str = TRIGGER_ID) -> None:
    """Delete a trigger; the runs it started stay."""
    with reporting_errors(), connection(ctx).client() as client:
        client.triggers.delete(trigger_id)
    console().print(Text.assemble(f"{trigger_id} ", ("deleted", "magenta")))


def register(app: typer.Typer) -> None:
    """Add the ``triggers`` group to the root command."""
    group = typer.Typer(
        help="Manage triggers: schedules, webhooks and uploads.", no_args_is_help=True
    )
    group.command("create")(create)
    group.command("ls")(list_triggers)
    group.command("show")(show)
    group.command("enable")(enable)
    group.command("disable")(disable)
    group.command("pause")(pause)
    group.command("resume")(resume)
    group.command("rm")(remove)
    app.add_typer(group, name="triggers")
