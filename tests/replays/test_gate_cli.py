"""``runplane bench gate``, ``agents publish --override-reason`` and ``agents split``, live."""

from typing import Any

import pytest
from examples.gate_demo import prepare
from typer.testing import CliRunner

from runplane import Client
from runplane.cli import app as cli

pytestmark = pytest.mark.timeout(180)


def _runner(live_server: Any) -> CliRunner:
    env = {"RUNPLANE_URL": live_server.url, "RUNPLANE_API_KEY": live_server.key, "COLUMNS": "250"}
    return CliRunner(env=env)


def test_the_gate_refuses_a_regressed_draft_and_an_admin_overrides_it(live_server: Any) -> None:
    runner = _runner(live_server)
    with Client(live_server.url, api_key=live_server.key) as client:
        name, draft = prepare(client)

    gate = runner.invoke(cli, ["bench", "gate", name, "--revision", draft, "--wait"])

    assert gate.exit_code == 1, gate.output
    assert "SCORER" in gate.output and "exact" in gate.output and "0%" in gate.output
    assert "gate failed" in gate.output
    refused = runner.invoke(cli, ["agents", "publish", name, draft])
    assert refused.exit_code == 1
    assert "replay gate" in refused.output and "exact passed 0% < 100%" in refused.output
    forced = runner.invoke(
        cli, ["agents", "publish", name, draft, "--override-reason", "accepted on purpose"]
    )
    assert forced.exit_code == 0, forced.output
    assert f"published {draft}" in forced.output


def test_agents_split_sets_shows_and_ends_a_split(live_server: Any) -> None:
    runner = _runner(live_server)
    with Client(live_server.url, api_key=live_server.key) as client:
        name, draft = prepare(client)
        published = client.agents.get(name).published_revision_id
    assert published is not None

    made = runner.invoke(
        cli, ["agents", "split", name, "--a", published, "--b", draft, "--percent-b", "25"]
    )
    assert made.exit_code == 0, made.output
    assert f"A {published} 75%" in made.output and f"B {draft} 25%" in made.output
    shown = runner.invoke(cli, ["agents", "split", name])
    assert shown.exit_code == 0 and f"B {draft} 25%" in shown.output
    half = runner.invoke(cli, ["agents", "split", name, "--a", published])
    assert half.exit_code == 2
    ended = runner.invoke(cli, ["agents", "split", name, "--off"])
    assert ended.exit_code == 0, ended.output
    gone = runner.invoke(cli, ["agents", "split", name])
    assert gone.exit_code == 1 and "no A/B split" in gone.output
