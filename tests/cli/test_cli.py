"""The ``runplane`` command line, run as a real process against a real server.

Output goes to a pipe, as in a script: one line per event, whole lines, no colour.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from runplane.client import Client
from runplane.schemas import RunPublic
from runplane.store import migrate
from runplane.store.dialect import sync_url
from runplane.store.schema import runs
from runplane.testing.server import LiveServer, claim_port, create_key, free_port

RUNPLANE = str(Path(sys.executable).parent / "runplane")
PROJECT = Path(__file__).resolve().parents[2] / "runplane.toml"
STATUSES = {"queued", "running", "paused", "auth_required", "succeeded", "failed", "canceled"}
CALL_TIMEOUT = 30

pytestmark = pytest.mark.timeout(60)


def cli_env(url: str | None = None, key: str | None = None) -> dict[str, str]:
    """The environment of a CLI process: the server's URL and key, a plain pipe."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("RUNPLANE_")
        and name not in ("COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE")
    }
    if url is not None:
        env["RUNPLANE_URL"] = url
    if key is not None:
        env["RUNPLANE_API_KEY"] = key
    return env


def runplane(
    *args: str, url: str | None = None, key: str | None = None, timeout: float = CALL_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run ``runplane ARGS`` to the end and return what it printed and its exit code."""
    return subprocess.run(
        [RUNPLANE, *args],
        env=cli_env(url, key),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Cli:
    """The CLI, pointed at the session's live server with its key."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = key

    def run(self, *args: str, timeout: float = CALL_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return runplane(*args, url=self.url, key=self.key, timeout=timeout)

    def client(self) -> Client:
        return Client(self.url, self.key)


@pytest.fixture
def live(live_server: Any) -> Cli:
    return Cli(live_server.url, live_server.key)


@pytest.fixture
def client(live: Cli) -> Iterator[Client]:
    with live.client() as c:
        yield c


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def output_of(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"


def result_after(stdout: str, run_id: str, status: str) -> object:
    """The JSON printed after the ``<run id> <status>`` line that ends a run's output."""
    lines = stdout.splitlines()
    end = lines.index(f"{run_id} {status}")
    return json.loads("\n".join(lines[end + 1 :]))


def event_rows(stdout: str) -> list[tuple[int, str, str]]:
    """``(seq, type, summary)`` of each event line that ``--watch`` printed to a pipe."""
    rows = []
    for line in stdout.splitlines():
        match = re.match(r"^\s*(\d+) (\S+)\s*(.*)$", line)
        if match:
            rows.append((int(match[1]), match[2], match[3].strip()))
    return rows


def table_rows(stdout: str) -> dict[str, str]:
    """``{run id: status}`` of each row of a runs table."""
    rows = {}
    for line in stdout.splitlines():
        words = line.split()
        if words and words[0].startswith("run_"):
            rows[words[0]] = next(w for w in words if w in STATUSES)
    return rows


def wait_until_running(client: Client, run_id: str, timeout: float = 10) -> RunPublic:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.runs.get(run_id)
        if run.status == "running" and run.started_at is not None:
            return run
        time.sleep(0.05)
    raise AssertionError(f"{run_id} did not start running in {timeout} s")


def assert_no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stdout + done.stderr, output_of(done)


# -- starting runs --------------------------------------------------------------------


def test_run_with_wait_prints_the_json_result_and_exits_0(live: Cli, client: Client) -> None:
    done = live.run("run", "echo", "--input", '{"a": 1}', "--wait")

    assert done.returncode == 0, output_of(done)
    first = done.stdout.splitlines()[0].split()
    run_id = first[0]
    assert run_id.startswith("run_") and first[1] in ("queued", "running")
    assert result_after(done.stdout, run_id, "succeeded") == {"a": 1}
    run = client.runs.get(run_id)
    assert run.agent_name == "echo" and run.status == "succeeded"
    assert run.input == {"a": 1} and run.result is not None and run.result.content == {"a": 1}


def test_run_with_watch_prints_a_line_per_event_then_the_result(live: Cli, client: Client) -> None:
    done = live.run("run", "steps", "--input", '{"steps": 3}', "--watch")

    assert done.returncode == 0, output_of(done)
    run_id, agent, status = done.stdout.splitlines()[0].split()
    assert agent == "steps" and status in ("queued", "running")
    rows = event_rows(done.stdout)
    assert [seq for seq, _, _ in rows] == list(range(1, len(rows) + 1))
    assert [(t, s) for _, t, s in rows] == [
        ("status", "Queued"),
        ("status", "Running"),
        ("step.started", "Step 1: step-1 started"),
        ("step.completed", "Step 1: step-1 completed"),
        ("step.started", "Step 2: step-2 started"),
        ("step.completed", "Step 2: step-2 completed"),
        ("step.started", "Step 3: step-3 started"),
        ("step.completed", "Step 3: step-3 completed"),
        ("result", rows[8][2]),  # the result, shortened to one line: checked below
        ("status", "Succeeded"),
    ]
    assert rows[8][2].startswith('{"steps":[')
    printed = result_after(done.stdout, run_id, "succeeded")
    run = client.runs.get(run_id)
    assert run.status == "succeeded" and run.result is not None
    assert printed == run.result.content
    assert [s["index"] for s in printed["steps"]] == [1, 2, 3]  # type: ignore[index]
    assert len(client.runs.events(run_id).items) == len(rows)


def test_a_failing_run_followed_with_watch_exits_1_showing_the_error_code(
    live: Cli, client: Client
) -> None:
    done = live.run("run", "fail", "--input", "{}", "--watch")

    assert done.returncode == 1, output_of(done)
    run_id = done.stdout.splitlines()[0].split()[0]
    lines = done.stdout.splitlines()
    assert f"{run_id} failed" in lines
    assert "example_failure: the fail agent always fails after its first step" in lines
    assert ("error", "the fail agent always fails after its first step (example_failure)") in [
        (t, s) for _, t, s in event_rows(done.stdout)
    ]
    assert_no_traceback(done)
    run = client.runs.get(run_id)
    assert run.status == "failed" and run.error is not None
    assert run.error.code == "example_failure"


def test_runs_cancel_stops_a_sleeping_run_and_show_reports_it_canceled(
    live: Cli, client: Client
) -> None:
    run = client.runs.create("steps", {"steps": 3, "sleep": 30})
    wait_until_running(client, run.id)

    done = live.run("runs", "cancel", run.id)

    assert done.returncode == 0, output_of(done)
    assert done.stdout.strip().startswith(run.id)
    assert "(cancel requested)" in done.stdout
    ended = client.runs.wait(run.id, timeout=10)
    assert ended.status == "canceled" and ended.cancel_receipt is not None
    shown = live.run("runs", "show", run.id)
    assert shown.returncode == 0, output_of(shown)
    assert re.search(r"^status\s+canceled\s*$", shown.stdout, re.M), shown.stdout
    assert f"{run.id} canceled" in shown.stdout.splitlines()
    assert "stopped during step 1" in shown.stdout


def test_cancelling_an_ended_run_exits_1_saying_it_already_ended(live: Cli, client: Client) -> None:
    run = client.runs.create("echo", {}, wait=10)

    done = live.run("runs", "cancel", run.id)

    assert done.returncode == 1, output_of(done)
    assert done.stderr.startswith("error: ") and "already ended" in done.stderr
    assert_no_traceback(done)
    assert client.runs.get(run.id).status == "succeeded"


def test_a_watched_run_canceled_elsewhere_exits_3(live: Cli, client: Client) -> None:
    name = unique("cli-watch-cancel")
    watcher = subprocess.Popen(
        [RUNPLANE, "run", "steps", "--input", '{"steps":1,"sleep":30}', "--watch", "--name", name],
        env=cli_env(live.url, live.key),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        found: list[RunPublic] = []
        while not found and time.monotonic() < deadline:
            assert watcher.poll() is None, watcher.communicate()
            found = client.runs.list(q=name).items
            time.sleep(0.05)
        assert len(found) == 1, f"no run named {name} appeared"
        run_id = found[0].id
        wait_until_running(client, run_id)
        client.runs.cancel(run_id)
        stdout, stderr = watcher.communicate(timeout=15)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()

    assert watcher.returncode == 3, f"exit {watcher.returncode}\n{stdout}\n{stderr}"
    assert f"{run_id} canceled" in stdout.splitlines()
    statuses = [s for _, t, s in event_rows(stdout) if t == "status"]
    assert re.fullmatch(r"Canceled( at step 1)?", statuses[-1]), statuses
    assert client.runs.get(run_id).status == "canceled"


# -- errors ---------------------------------------------------------------------------


def test_input_that_is_not_json_is_a_usage_error_exit_2(live: Cli, client: Client) -> None:
    name = unique("cli-bad-json")

    done = live.run("run", "echo", "--input", "{not json", "--name", name)

    assert done.returncode == 2, output_of(done)
    assert "--input" in done.stderr and "not valid JSON" in done.stderr
    assert done.stdout == ""
    assert_no_traceback(done)
    assert client.runs.list(q=name).items == []


def test_an_unknown_agent_exits_1_with_the_servers_message(live: Cli) -> None:
    agent = unique("no-such-agent")

    done = live.run("run", agent, "--input", "{}")

    assert done.returncode == 1, output_of(done)
    assert done.stderr.splitlines()[0] == f"error: no agent '{agent}'"
    assert f"agent_id: {agent}" in done.stderr
    assert done.stdout == ""
    assert_no_traceback(done)


def test_a_wrong_api_key_exits_1_saying_the_key_is_not_valid(live: Cli) -> None:
    done = runplane("runs", "ls", url=live.url, key="rp_not-a-real-key")

    assert done.returncode == 1, output_of(done)
    assert done.stderr.startswith("error: ") and "API key" in done.stderr
    assert done.stdout == ""
    assert_no_traceback(done)


def test_an_unreachable_server_exits_1_naming_its_url(live: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    done = runplane("run", "echo", "--input", "{}", "--wait", url=url, key=live.key)

    assert done.returncode == 1, output_of(done)
    # Nothing was sent, so the call went again (three times, said on stderr) before failing.
    *retries, error = done.stderr.strip().splitlines()
    assert len(retries) == 3 and all(r.startswith("retrying in ") for r in retries), retries
    assert error.startswith("error: ") and url in error and "not reachable" in error
    assert_no_traceback(done)


# -- listing and inspecting runs ------------------------------------------------------


def test_runs_ls_lists_runs_newest_first_and_filters_by_status(live: Cli, client: Client) -> None:
    echoed = client.runs.create("echo", {"n": 1}, wait=10)
    failed = client.runs.create("fail", {}, wait=10)

    listed = live.run("runs", "ls", "--limit", "100")
    only_failed = live.run("runs", "ls", "--status", "failed", "--limit", "100")

    assert listed.returncode == 0, output_of(listed)
    rows = table_rows(listed.stdout)
    assert rows[echoed.id] == "succeeded" and rows[failed.id] == "failed"
    ids = list(rows)
    assert ids.index(failed.id) < ids.index(echoed.id)
    assert only_failed.returncode == 0, output_of(only_failed)
    failed_rows = table_rows(only_failed.stdout)
    assert failed.id in failed_rows and echoed.id not in failed_rows
    assert set(failed_rows.values()) == {"failed"}
    assert set(failed_rows) == {r.id for r in client.runs.list(status="failed", limit=100).items}


def test_runs_ls_by_liveness_lists_the_running_runs_in_that_state(
    live: Cli, client: Client, live_server: Any
) -> None:
    run = client.runs.create("steps", {"steps": 1, "sleep": 30})
    wait_until_running(client, run.id)
    # As the database sees it, the run's holder is gone: no heartbeat row by its name.
    engine = sa.create_engine(sync_url(live_server.database_url))
    try:
        with engine.begin() as conn:
            conn.execute(runs.update().where(runs.c.id == run.id).values(owner="gone-worker"))
    finally:
        engine.dispose()

    lost = live.run("runs", "ls", "--liveness", "lost", "--limit", "100")
    working = live.run("runs", "ls", "--liveness", "working", "--limit", "100")
    unknown = live.run("runs", "ls", "--liveness", "dead")

    assert lost.returncode == 0, output_of(lost)
    assert table_rows(lost.stdout) == {run.id: "running"}, output_of(lost)
    assert working.returncode == 0, output_of(working)
    assert run.id not in table_rows(working.stdout)
    assert unknown.returncode == 2 and "dead" in unknown.stderr, output_of(unknown)
    client.runs.cancel(run.id)
    assert client.runs.wait(run.id, timeout=10).status == "canceled"


def test_runs_show_prints_fields_steps_and_result(live: Cli, client: Client) -> None:
    run = client.runs.create("steps", {"steps": 2}, wait=10, name=unique("cli-show"))

    done = live.run("runs", "show", run.id)

    assert done.returncode == 0, output_of(done)
    out = done.stdout
    assert re.search(rf"^id\s+{run.id}\s*$", out, re.M)
    assert re.search(rf"^name\s+{run.name}\s*$", out, re.M)
    assert re.search(r"^steps\s+2 finished of 2\s*$", out, re.M)
    steps = re.findall(r"^\s*(\d+)\s+(step-\d+)\s+(\w+)", out, re.M)
    assert steps == [("1", "step-1", "completed"), ("2", "step-2", "completed")]
    assert run.result is not None
    assert result_after(out, run.id, "succeeded") == run.result.content


def test_runs_show_of_an_unknown_run_exits_1(live: Cli) -> None:
    done = live.run("runs", "show", "run_does_not_exist")

    assert done.returncode == 1, output_of(done)
    assert done.stderr.splitlines()[0] == "error: no run 'run_does_not_exist'"
    assert_no_traceback(done)


def test_rerun_from_step_2_reuses_step_1_and_runs_the_rest_again(live: Cli, client: Client) -> None:
    first = client.runs.create("steps", {"steps": 3}, wait=10)

    done = live.run("runs", "rerun", first.id, "--from-step", "2", "--wait")

    assert done.returncode == 0, output_of(done)
    new_id = done.stdout.splitlines()[0].split()[0]
    assert new_id != first.id
    second = client.runs.get(new_id)
    assert second.status == "succeeded"
    assert second.rerun_of == first.id and second.from_step == 2
    steps = client.runs.steps(new_id).items
    assert [s.status for s in steps] == ["reused", "completed", "completed"]
    assert steps[0].reused_from == first.id
    assert first.result is not None and second.result is not None
    old, new = first.result.content["steps"], second.result.content["steps"]
    assert new[0] == old[0]
    assert new[1]["nonce"] != old[1]["nonce"] and new[2]["nonce"] != old[2]["nonce"]
    assert result_after(done.stdout, new_id, "succeeded") == second.result.content


# -- local commands -------------------------------------------------------------------


def test_keys_create_prints_a_key_that_a_server_on_that_database_accepts(
    new_database: Callable[[str], str], start_server: Callable[..., LiveServer]
) -> None:
    url = new_database("cli_keys")

    done = runplane("keys", "create", "--tenant", "cli-test", "--database-url", url)

    assert done.returncode == 0, output_of(done)
    key = done.stdout.strip().splitlines()[-1]
    assert key == key.strip() and " " not in key and len(key) > 20
    assert "cli-test" in done.stderr and key not in done.stderr
    server = start_server(database_url=url)
    with_key = httpx.get(
        f"{server.url}/v1/runs", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert with_key.status_code == 200, with_key.text
    assert with_key.json()["items"] == []
    other = httpx.get(
        f"{server.url}/v1/runs", headers={"Authorization": f"Bearer {key}x"}, timeout=10
    )
    assert other.status_code == 401


def test_db_upgrade_brings_an_empty_database_to_the_head_revision(
    new_database: Callable[[str], str],
) -> None:
    url = new_database("cli_upgrade")
    assert migrate.current(url) is None

    done = runplane("db", "upgrade", "--database-url", url)

    assert done.returncode == 0, output_of(done)
    assert done.stdout.strip() == migrate.head()
    assert migrate.current(url) == migrate.head()
    again = runplane("db", "upgrade", "--database-url", url)
    assert again.returncode == 0 and again.stdout.strip() == migrate.head()


@pytest.mark.database_independent
def test_db_upgrade_of_an_unreachable_database_exits_1_without_a_traceback() -> None:
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/nothing"

    done = runplane("db", "upgrade", "--database-url", url)

    assert done.returncode == 1, output_of(done)
    assert done.stderr.startswith("error: ")
    assert_no_traceback(done)


def test_serve_answers_healthz_and_exits_on_sigterm(
    new_database: Callable[[str], str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # Claimed to the end: no server of a test running in parallel takes this port, which
    # must be refused once ours has exited.
    port, claim = claim_port()
    request.addfinalizer(claim.close)
    url = new_database("cli_serve")
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [RUNPLANE, "serve", "--port", str(port), "--database-url", url, "--project", str(PROJECT)],
        cwd=tmp_path,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    try:
        health = None
        deadline = time.monotonic() + 30
        while health is None and time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            except httpx.HTTPError:
                time.sleep(0.05)
        assert health is not None and health.status_code == 200
        assert health.json()["status"] == "ok"
        admin = {"x-api-key": create_key(url, tenant="cli-serve")}
        detail = httpx.get(f"http://127.0.0.1:{port}/healthz", headers=admin, timeout=5)
        assert {"echo", "steps", "research", "fail"} <= set(detail.json()["agents"])

        server.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = server.wait(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()

    assert time.monotonic() - started < 10
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert code in (0, -signal.SIGTERM), (tmp_path / "serve.log").read_text()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)


@pytest.mark.database_independent
def test_help_lists_the_commands() -> None:
    done = runplane("--help")

    assert done.returncode == 0, output_of(done)
    commands = set(re.findall(r"^\W*([a-z]+)\s{2,}\S", done.stdout, re.M))
    assert {"serve", "worker", "run", "runs", "db", "keys"} <= commands


def test_runs_show_tells_a_running_runs_liveness_and_repair_refuses_a_working_run(
    live: Cli, client: Client
) -> None:
    run = client.runs.create("steps", {"steps": 1, "sleep": 30})
    wait_until_running(client, run.id)
    try:
        shown = live.run("runs", "show", run.id)
        assert shown.returncode == 0, output_of(shown)
        assert re.search(r"^liveness\s+working \(last progress ", shown.stdout, re.M), shown.stdout

        neither = live.run("runs", "repair", run.id, "--reason", "stuck?")
        assert neither.returncode == 2, output_of(neither)
        assert "--resume or --fail" in neither.stderr

        refused = live.run("runs", "repair", run.id, "--fail", "--reason", "impatient")
        assert refused.returncode == 1, output_of(refused)
        assert "only a stalled or lost run is repaired" in refused.stderr, output_of(refused)
        assert_no_traceback(refused)
    finally:
        client.runs.cancel(run.id)
