"""Executor ids: unique across hosts that share a name, the same after a restart of a slot."""

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runplane.cli import app
from runplane.engine.identity import claim_executor_id
from runplane.settings import Settings

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only

SUFFIX = re.compile(r"-[0-9a-f]{8}$")


def test_a_slot_is_named_by_host_role_number_and_a_suffix_that_no_other_data_dir_has(
    tmp_path: Path,
) -> None:
    # Two hosts with one name (containers of one image, namespaces of one machine) each
    # keep their slots in a data directory of their own.
    a = claim_executor_id(None, "worker", tmp_path / "a")
    b = claim_executor_id(None, "worker", tmp_path / "b")
    try:
        prefix = f"{socket.gethostname()}-worker-1-"
        assert a.executor_id.startswith(prefix) and b.executor_id.startswith(prefix)
        assert SUFFIX.search(a.executor_id) and SUFFIX.search(b.executor_id)
        assert a.executor_id != b.executor_id
    finally:
        a.release()
        b.release()


def test_a_restarted_process_gets_its_slot_back_and_a_live_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    first = claim_executor_id(None, "api", tmp_path)
    second = claim_executor_id(None, "api", tmp_path)
    assert "-api-1-" in first.executor_id and "-api-2-" in second.executor_id
    held = first.executor_id
    first.release()
    again = claim_executor_id(None, "api", tmp_path)
    assert again.executor_id == held, "the same slot, the same id: DBOS resumes its runs"
    again.release()
    second.release()


def test_a_slot_held_by_another_process_is_skipped(tmp_path: Path) -> None:
    code = (
        "import sys, time; from runplane.engine.identity import claim_executor_id; "
        f"s = claim_executor_id(None, 'worker', __import__('pathlib').Path({str(tmp_path)!r})); "
        "print(s.executor_id, flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        theirs = holder.stdout.readline().strip()
        mine = claim_executor_id(None, "worker", tmp_path)
        assert "-worker-1-" in theirs and "-worker-2-" in mine.executor_id
        mine.release()
    finally:
        holder.kill()
        holder.wait(10)
    # Its lock went with it: the slot and its id are free again.
    back = claim_executor_id(None, "worker", tmp_path)
    assert back.executor_id == theirs
    back.release()


def test_a_lock_file_from_before_suffixes_gets_one(tmp_path: Path) -> None:
    (tmp_path / f"{socket.gethostname()}-worker-1.lock").write_text("12345")
    slot = claim_executor_id(None, "worker", tmp_path)
    assert SUFFIX.search(slot.executor_id), slot.executor_id
    slot.release()


def test_an_explicit_id_is_used_as_given(tmp_path: Path) -> None:
    slot = claim_executor_id("pod-7", "worker", tmp_path)
    assert slot.executor_id == "pod-7" and not list(tmp_path.iterdir())


def test_roles_and_the_old_worker_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().role == "all" and Settings().executes
    monkeypatch.setenv("RUNPLANE_ROLE", "API")
    assert Settings().role == "api" and not Settings().executes
    monkeypatch.delenv("RUNPLANE_ROLE")
    # RUNPLANE_WORKER=false, from before roles, still makes an API-only process ...
    monkeypatch.setenv("RUNPLANE_WORKER", "false")
    assert Settings().role == "api"
    # ... unless a role is asked for.
    monkeypatch.setenv("RUNPLANE_ROLE", "worker")
    assert Settings().role == "worker" and Settings().executes
    monkeypatch.setenv("RUNPLANE_ROLE", "everything")
    with pytest.raises(ValueError, match="role"):
        Settings()


def test_serve_refuses_several_processes_for_a_worker() -> None:
    wide = CliRunner(env={"COLUMNS": "300"})
    done = wide.invoke(app, ["serve", "--role", "worker", "--processes", "2"])
    assert done.exit_code == 2, done.output
    assert "start one `runplane worker` per core" in done.output, done.output
    bad = wide.invoke(app, ["serve", "--role", "boss"])
    assert bad.exit_code == 2 and "boss" in bad.output
