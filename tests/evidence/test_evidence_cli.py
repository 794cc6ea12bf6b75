"""``runplane evidence``: export from a live server, then verify offline; exit codes."""

import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

RUNPLANE = str(Path(sys.executable).parent / "runplane")

pytestmark = pytest.mark.timeout(120)


def runplane(*args: str, url: str = "", key: str = "") -> subprocess.CompletedProcess[str]:
    env = {"RUNPLANE_URL": url, "RUNPLANE_API_KEY": key, "PATH": "/usr/bin:/bin"}
    env.update({k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "HOME")})
    return subprocess.run(
        [RUNPLANE, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def ended_run(live: Any) -> str:
    with live.client() as api:
        run = api.post("/v1/runs", json={"agent_id": "artifacts", "input": {"parts": 2}}).json()
        deadline = time.monotonic() + 30
        while api.get(f"/v1/runs/{run['id']}").json()["status"] != "succeeded":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    return str(run["id"])


def test_export_then_verify_offline_with_the_pinned_key(live_server: Any, tmp_path: Path) -> None:
    run_id = ended_run(live_server)
    bundle, pem = tmp_path / "evidence.zip", tmp_path / "tenant.pem"
    auth = {"url": live_server.url, "key": live_server.key}

    made = runplane("evidence", "export", run_id, "-o", str(bundle), **auth)
    assert made.returncode == 0, made.stderr
    assert "saved" in made.stderr and zipfile.is_zipfile(bundle)
    shown = runplane("evidence", "keys", "pem", **auth)
    assert shown.returncode == 0 and shown.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    pem.write_text(shown.stdout)

    good = runplane("evidence", "verify", str(bundle), "--key", str(pem))
    assert good.returncode == 0, good.stdout
    assert good.stdout.startswith("VALID") and "valid, by a key you pinned" in good.stdout
    unpinned = runplane("evidence", "verify", str(bundle))
    assert unpinned.returncode == 0 and "which you have not pinned" in unpinned.stdout

    listed = runplane("evidence", "keys", "ls", **auth)
    assert listed.returncode == 0 and "Ed25519" in listed.stdout
    rotated = runplane("evidence", "keys", "rotate", **auth)
    assert rotated.returncode == 0 and "active" in rotated.stdout
    # The old bundle still verifies with the old key; not with the new one alone.
    assert runplane("evidence", "verify", str(bundle), "-k", str(pem)).returncode == 0
    new_pem = tmp_path / "new.pem"
    new_pem.write_text(runplane("evidence", "keys", "pem", **auth).stdout)
    wrong = runplane("evidence", "verify", str(bundle), "-k", str(new_pem), "--json")
    assert wrong.returncode == 1
    assert [p["kind"] for p in json.loads(wrong.stdout)["problems"]] == ["wrong_key"]


def test_verify_says_invalid_and_names_the_problem_exit_1(live_server: Any, tmp_path: Path) -> None:
    with live_server.client() as api:
        data = api.get(f"/v1/runs/{ended_run(live_server)}/evidence").content
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tampered, "w") as out, zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            body = z.read(name)
            if name.endswith("steps.json"):
                body = body.replace(b"part-1", b"part-9")
            out.writestr(name, body)
    bad = runplane("evidence", "verify", str(tampered))
    assert bad.returncode == 1
    assert bad.stdout.startswith("INVALID") and "member_hash" in bad.stdout
    assert "steps.json" in bad.stdout


@pytest.mark.database_independent
def test_unreadable_input_exits_2_and_a_missing_manifest_1(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    r = runplane("evidence", "verify", str(junk), "--json")
    assert r.returncode == 2 and json.loads(r.stdout)["problems"][0]["kind"] == "not_a_zip"
    assert runplane("evidence", "verify", str(tmp_path / "absent.zip")).returncode == 2
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("runs/x/run.json", "{}")
    r = runplane("evidence", "verify", str(empty))
    assert r.returncode == 1 and "no_manifest" in r.stdout and "INVALID" in r.stdout
    r = runplane("evidence", "verify", str(empty), "--key", str(tmp_path / "nokey.pem"))
    assert r.returncode == 2 and "cannot read the key" in r.stderr
