"""``runplane triggers …`` as a real process against the session's live server; a webhook
made by the CLI is delivered over a real socket."""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from runplane.schemas.webhooks import sign_headers

RUNPLANE = str(Path(sys.executable).parent / "runplane")
pytestmark = pytest.mark.timeout(60)


def cli(live: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPLANE_")}
    env |= {"RUNPLANE_URL": live.url, "RUNPLANE_API_KEY": live.key, "COLUMNS": "200"}
    done = subprocess.run(
        [RUNPLANE, *args], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_the_cli_makes_shows_pauses_and_removes_a_schedule(live_server: Any) -> None:
    name = f"nightly-{uuid.uuid4().hex[:6]}"
    made = cli(
        live_server,
        "triggers", "create", "schedule", "echo",
        "--schedule", "0 2 * * *", "--timezone", "America/New_York",
        "--input", '{"message": "night"}', "--name", name,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    trigger_id = next(w for w in made.stdout.split() if w.startswith("trg_"))
    listed = cli(live_server, "triggers", "ls", "--kind", "schedule")
    assert trigger_id in listed.stdout and "0 2 * * * (America/New_York)" in listed.stdout
    shown = cli(live_server, "triggers", "show", trigger_id)
    assert shown.returncode == 0 and "next fire" in shown.stdout and name in shown.stdout
    assert "paused" in cli(live_server, "triggers", "pause", trigger_id).stdout
    assert "enabled" in cli(live_server, "triggers", "resume", trigger_id).stdout
    assert "disabled" in cli(live_server, "triggers", "disable", trigger_id).stdout
    assert "enabled" in cli(live_server, "triggers", "enable", trigger_id).stdout
    assert cli(live_server, "triggers", "rm", trigger_id).returncode == 0
    gone = cli(live_server, "triggers", "show", trigger_id)
    assert gone.returncode == 1 and "no trigger" in gone.stderr


def test_a_bad_cron_from_the_cli_exits_1_naming_the_field(live_server: Any) -> None:
    done = cli(live_server, "triggers", "create", "schedule", "echo", "--schedule", "nope")
    assert done.returncode == 1 and "schedule" in done.stderr


def test_a_webhook_made_by_the_cli_starts_a_run_over_http(live_server: Any) -> None:
    made = cli(live_server, "triggers", "create", "webhook", "echo", "--map", "message=/text")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    trigger_id = next(w for w in made.stdout.split() if w.startswith("trg_"))
    body = json.dumps({"text": "from outside"}).encode()
    headers = sign_headers([secret], f"msg_{uuid.uuid4().hex}", int(time.time()), body)
    r = httpx.post(
        f"{live_server.url}/v1/triggers/{trigger_id}/hook", content=body, headers=headers
    )
    assert r.status_code == 202, r.text
    with live_server.client() as client:
        run = client.get(f"/v1/runs/{r.json()['run_id']}").json()
    assert run["trigger"] == "webhook" and run["trigger_id"] == trigger_id
    assert run["input"] == {"message": "from outside"}
