"""``runplane bench gate AGENT --revision R``: replay production runs against a revision.

It starts the revision's replay gate (the agent's recent production runs replayed with
their recorded tool outputs, scored by its gate benchmark); with ``--wait`` it follows
it, prints a table per replay and per scorer, and exits 1 when the gate fails.
"""

import typer
from rich.text import Text

from runplane.cli._context import connection, console, reporting_errors
from runplane.cli.bench import _all_results, _follow, _report, _verdict
from runplane.schemas.benchmarks import ResultPublic


def _divergences(results: list[ResultPublic]) -> None:
    """One line per tool call a replay made that its recorded run never made."""
    out = console()
    for result in results:
        for found in result.divergences or []:
            out.print(
                Text(
                    f"divergence in {result.run_id}: {found.get('name')}"
                    f"({found.get('arguments')}): {found.get('reason')}",
                    style="yellow",
                ),
                soft_wrap=True,
            )


def gate(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="The agent (id or name)."),
    revision: str = typer.Option(..., "--revision", "-r", help="The revision to judge (rev_…)."),
    wait: bool = typer.Option(
        False, "--wait", help="Follow it to the end, print its report, exit 1 if it fails."
    ),
) -> None:
    """Start a revision's replay gate; with --wait, exit 1 when it fails."""
    with reporting_errors(), connection(ctx).client() as client:
        suite = client.agents.start_gate(agent, revision)
        if not wait:
            console().print(Text(f"gate {suite.id} started: {suite.case_count} replays"))
            return
        suite = _follow(client, suite, quiet=False)
        results = _all_results(client, suite.id)
    _report(suite, results)
    _divergences(results)
    if _verdict(suite) != "passed":
        raise typer.Exit(1)
