"""``runplane governance …`` and ``runplane runs delete``, as real processes against the
session's live server; the sync client's governance calls along the way."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from runplane.client import Client
from runplane.testing.server import create_key

RUNPLANE = str(Path(sys.executable).parent / "runplane")
pytestmark = pytest.mark.timeout(240)


class Cli:
    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("RUNPLANE_")},
            "RUNPLANE_URL": self.url,
            "RUNPLANE_API_KEY": self.key,
            "COLUMNS": "200",
        }
        return subprocess.run(
            [RUNPLANE, *args], env=env, capture_output=True, text=True, timeout=60
        )


@pytest.fixture
def cli(live_server: Any) -> Cli:
    key = create_key(live_server.database_url, tenant=f"cli-gov-{uuid.uuid4().hex[:8]}")
    return Cli(live_server.url, key)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return done.stdout


def test_policy_holds_and_delete_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    doc = tmp_path / "policy.json"
    doc.write_text(
        json.dumps(
            {
                "retention": {"runs": {"days": 30}},
                "holds": [{"name": "h", "reason": "r", "keep_days": 90}],
            }
        )
    )
    refused = cli("governance", "policy", "set", str(doc))
    assert refused.returncode == 1 and "retention.runs.days" in refused.stdout + refused.stderr
    doc.write_text(
        json.dumps({"deletion": {"min_age_days": 0}, "retention": {"runs": {"days": 365}}})
    )
    assert "policy version 2 in force" in ok(
        cli("governance", "policy", "set", str(doc), "-m", "a year")
    )
    shown = ok(cli("governance", "policy", "show"))
    assert "version 2" in shown and '"days": 365' in shown

    with Client(cli.url, cli.key, timeout=30) as client:
        run = client.runs.create("echo", {}, wait=15)
        held = ok(cli("governance", "holds", "add", "--run", run.id, "--reason", "matter 12"))
        hold_id = next(w for w in held.split() if w.startswith("hld_"))
        refused = cli("runs", "delete", run.id, "--reason", "tidy")
        assert refused.returncode == 1 and hold_id in refused.stdout + refused.stderr
        assert client.runs.get(run.id).id == run.id
        assert "released" in ok(cli("governance", "holds", "release", hold_id))
        assert "deleted" in ok(cli("runs", "delete", run.id, "--reason", "tidy"))
        assert client.runs.verify(run.id).deleted
        assert "matter 12" in client.governance.get_hold(hold_id).reason
        versions = client.governance.policy_versions()
        assert [v.version for v in versions.items] == [2, 1]
        tombs = client.governance.tombstones()
        assert [t.run_id for t in tombs.items] == [run.id] and tombs.items[0].reason == "tidy"
