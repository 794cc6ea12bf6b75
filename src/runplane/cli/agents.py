"""``runplane agents ls|create|revise|show|publish|split``: agents and their revisions; step
agents (kind ``steps``) are created and revised from a definition file (JSON or YAML)."""

import json
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.table import Table
from rich.text import Text

from runplane.cli._context import connection, console, reporting_errors
from runplane.cli._render import format_time
from runplane.schemas import RevisionPublic

FILE_HELP = "The definition: a .json, .yaml or .yml file."


def read_definition(path: Path) -> dict[str, Any]:
    """A definition file's content, or a usage error (exit code 2) saying what is wrong."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot read {path}: {exc.strerror}", param_hint="--file"
        ) from None
    try:
        data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise typer.BadParameter(f"{path} does not parse: {exc}", param_hint="--file") from None
    if not isinstance(data, dict):
        raise typer.BadParameter(f"{path} must hold an object", param_hint="--file")
    return data


def list_agents(ctx: typer.Context) -> None:
    """List the agents: kind, published revision, last completed run."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.agents.list()
    table = Table("name", "kind", "published", "last completed", box=None)
    for a in page.items:
        last = format_time(a.last_completed_at) if a.last_completed_at else "-"
        table.add_row(a.name, a.kind, a.published_revision_id or "-", last)
    console().print(table)


def create(
    ctx: typer.Context,
    file: Path = typer.Option(..., "--file", "-f", help=FILE_HELP),
    publish: bool = typer.Option(False, "--publish", help="Publish the first revision too."),
) -> None:
    """Create a step agent from a definition file; its first revision is a draft."""
    definition = read_definition(file)
    with reporting_errors(), connection(ctx).client() as client:
        made = client.agents.create(definition)
        revision = made.revision
        if publish:
            revision = client.agents.publish(made.agent.id, revision.id)
    out = console()
    out.print(Text(f"created agent {made.agent.name} ({made.agent.id})", style="green"))
    out.print(f"revision {revision.id} ({revision.stage})")


def revise(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="The agent (id or name)."),
    file: Path = typer.Option(..., "--file", "-f", help=FILE_HELP),
    publish: bool = typer.Option(False, "--publish", help="Publish the new revision too."),
) -> None:
    """Save a definition file as a new draft revision (an unchanged one gives the same)."""
    definition = read_definition(file)
    with reporting_errors(), connection(ctx).client() as client:
        revision = client.agents.revise(agent, definition)
        if publish:
            revision = client.agents.publish(agent, revision.id)
    console().print(f"revision {revision.id} ({revision.stage})")


def show(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="The agent (id or name)."),
    revision: str | None = typer.Option(
        None, "--revision", help="This revision (default: the published one, else the newest)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the revision's definition as JSON."),
) -> None:
    """Show an agent's revision: its variables and steps (model, effort, tools, output)."""
    with reporting_errors(), connection(ctx).client() as client:
        found = client.agents.get(agent)
        chosen = revision or found.published_revision_id
        if chosen is None:
            newest = client.agents.revisions(agent).items
            chosen = newest[0].id if newest else None
        rev = client.agents.revision(agent, chosen) if chosen else None
    out = console()
    if as_json:
        out.print_json(json.dumps(rev.config if rev else {}))
        return
    out.print(Text(f"{found.name} ({found.kind})", style="bold"))
    if found.description:
        out.print(found.description)
    if rev is None:
        out.print(Text("no revision", style="dim"))
        return
    out.print(f"revision {rev.id} ({rev.stage}, {format_time(rev.created_at)})")
    _print_definition(rev)


def _print_definition(rev: RevisionPublic) -> None:
    config, out = rev.config, console()
    variables = config.get("variables") or {}
    if variables:
        table = Table("variable", "type", "default", box=None)
        for name, v in variables.items():
            table.add_row(name, str(v.get("type")), json.dumps(v.get("default")))
        out.print(table)
    steps = config.get("steps") or []
    if steps:
        agent_model = config.get("model") or {}
        table = Table("#", "step", "model", "effort", "tools", "output", box=None)
        for i, s in enumerate(steps, 1):
            model = s.get("model") or agent_model.get("name") or "offline"
            effort = s.get("reasoning_effort") or agent_model.get("reasoning_effort") or "-"
            output = s.get("output") or {}
            shown = output.get("format", "text")
            if output.get("file_name"):
                shown += f" ({output['file_name']})"
            table.add_row(
                str(i), s["name"], model, effort, ", ".join(s.get("tools") or []) or "-", shown
            )
        out.print(table)


def publish(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="The agent (id or name)."),
    revision: str = typer.Argument(..., help="The revision to publish (rev_…)."),
    override_reason: str | None = typer.Option(
        None, "--override-reason", help="Publish over a failing replay gate (admins), saying why."
    ),
) -> None:
    """Make a revision the one new runs of the agent use (through its replay gate if required)."""
    with reporting_errors(), connection(ctx).client() as client:
        done = client.agents.publish(agent, revision, override_reason=override_reason)
    console().print(Text(f"published {done.id}", style="green"))


def split(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="The agent (id or name)."),
    revision_a: str | None = typer.Option(None, "--a", help="Revision A (rev_…)."),
    revision_b: str | None = typer.Option(None, "--b", help="Revision B (rev_…)."),
    percent_b: float | None = typer.Option(
        None, "--percent-b", min=0, max=100, help="The share of new runs that go to B."
    ),
    off: bool = typer.Option(False, "--off", help="End the split."),
) -> None:
    """Split the agent's new runs between two revisions (A/B), show the split, or end it."""
    out = console()
    given = (revision_a, revision_b, percent_b)
    if off and any(v is not None for v in given):
        raise typer.BadParameter("--off takes no other option", param_hint="--off")
    if any(v is not None for v in given) and any(v is None for v in given):
        raise typer.BadParameter("give --a, --b and --percent-b together", param_hint="--a")
    with reporting_errors(), connection(ctx).client() as client:
        if off:
            client.agents.remove_split(agent)
            out.print(Text(f"split of {agent} ended", style="green"))
            return
        if revision_a is not None and revision_b is not None and percent_b is not None:
            shown = client.agents.set_split(
                agent, revision_a=revision_a, revision_b=revision_b, percent_b=percent_b
            )
        else:
            shown = client.agents.split(agent)
    out.print(
        f"A {shown.revision_a} {100 - shown.percent_b:g}% · B {shown.revision_b} "
        f"{shown.percent_b:g}% · since {format_time(shown.started_at)}"
    )


def register(app: typer.Typer) -> None:
    """Add the ``agents`` group to the root command."""
    group = typer.Typer(
        help="List agents; create, revise and publish step agents.", no_args_is_help=True
    )
    group.command("ls")(list_agents)
    group.command("create")(create)
    group.command("revise")(revise)
    group.command("show")(show)
    group.command("publish")(publish)
    group.command("split")(split)
    app.add_typer(group, name="agents")
