"""Step agents through the Python client (in-process) and the CLI (a real process against
the session's live server, with a YAML definition)."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from tests.step_agents.test_definitions import definition

from runplane import AsyncClient
from runplane.cli.runs import parse_step_overrides
from runplane.client import RunplaneAPIError
from runplane.services import auth
from runplane.services.runtime import Runtime

RUNPLANE = str(Path(sys.executable).parent / "runplane")


async def test_the_client_creates_revises_reads_publishes_and_runs_a_step_agent(
    app: FastAPI, rt: Runtime
) -> None:
    key = await auth.create_key(rt.db, f"t-{uuid.uuid4().hex[:10]}", None, "admin")
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("http://runplane.test", key, transport=transport) as client:
        made = await client.agents.create(definition())
        assert made.agent.kind == "steps" and made.revision.stage == "draft"
        second = await client.agents.revise("site-report", definition(description="v2"))
        assert second.id != made.revision.id
        read = await client.agents.revision("site-report", second.id)
        assert read.config["description"] == "v2"
        await client.agents.publish("site-report", second.id)
        run = await client.runs.create(
            "site-report",
            {"question": "Sales?"},
            wait=30,
            step_overrides={"summary": {"reasoning_effort": "high"}},
        )
        assert run.status == "succeeded" and run.revision_id == second.id
        assert run.step_overrides == {"summary": {"reasoning_effort": "high"}}
        with pytest.raises(RunplaneAPIError) as caught:
            await client.agents.revise("site-report", definition(model={"name": "nope-1"}))
        assert caught.value.status_code == 422


def cli(live: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPLANE_")}
    env |= {"RUNPLANE_URL": live.url, "RUNPLANE_API_KEY": live.key, "COLUMNS": "200"}
    done = subprocess.run(
        [RUNPLANE, *args], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.mark.timeout(120)
def test_the_cli_creates_shows_revises_and_publishes_from_yaml(
    live_server: Any, tmp_path: Path
) -> None:
    name = f"report-{uuid.uuid4().hex[:6]}"
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(definition(name=name)))
    made = cli(live_server, "agents", "create", "--file", str(path))
    assert made.returncode == 0, made.stderr
    first = next(w for w in made.stdout.split() if w.startswith("rev_"))
    shown = cli(live_server, "agents", "show", name)
    assert shown.returncode == 0, shown.stderr
    assert "research" in shown.stdout and "summary" in shown.stdout and "medium" in shown.stdout
    path.write_text(yaml.safe_dump(definition(name=name, description="second")))
    revised = cli(live_server, "agents", "revise", name, "--file", str(path))
    assert revised.returncode == 0 and "draft" in revised.stdout, revised.stderr
    second = next(w for w in revised.stdout.split() if w.startswith("rev_"))
    assert second != first
    published = cli(live_server, "agents", "publish", name, second)
    assert published.returncode == 0 and second in published.stdout
    as_json = cli(live_server, "agents", "show", name, "--json")
    assert json.loads(as_json.stdout)["description"] == "second"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(definition(name=name, model={"name": "nope-1"})))
    refused = cli(live_server, "agents", "revise", name, "--file", str(bad))
    assert refused.returncode != 0 and "nope-1" in refused.stderr
    ran = cli(
        live_server,
        "run", name, "--input", '{"question": "Sales?"}', "--var", "max_points=3",
        "--step", "draft=gpt-4o-mini:high", "--wait",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = next(w for w in ran.stdout.split() if w.startswith("run_"))
    with live_server.client() as http:
        shown = http.get(f"/v1/runs/{run_id}").json()
    assert shown["step_overrides"] == {
        "draft": {"model": "gpt-4o-mini", "reasoning_effort": "high"}
    }
    assert shown["variables"] == {"max_points": 3} and shown["status"] == "succeeded"


@pytest.mark.database_independent
def test_step_overrides_on_the_command_line_keep_colons_of_model_names() -> None:
    assert parse_step_overrides(["a=llama3:8b", "b=gpt-4o:high", "c=:low"]) == {
        "a": {"model": "llama3:8b"},
        "b": {"model": "gpt-4o", "reasoning_effort": "high"},
        "c": {"reasoning_effort": "low"},
    }
