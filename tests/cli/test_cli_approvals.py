"""``runplane approvals``, ``connections``, ``tools`` and runs that pause, run as real processes.

Output goes to a pipe, as in a script: whole lines, no colour.
"""

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from runplane.client import Client
from runplane.schemas import RunPublic
from runplane.testing.server import create_key

RUNPLANE = str(Path(sys.executable).parent / "runplane")
CALL_TIMEOUT = 30
NOTES = {"tool": "read_notes", "arguments": {"day": "Monday"}}
EMAIL = {
    "tool": "send_email",
    "arguments": {"to": "team@example.com", "subject": "Hi", "body": "b"},
}

pytestmark = pytest.mark.timeout(60)


def cli_env(url: str, key: str) -> dict[str, str]:
    """The environment of a CLI process: the server's URL and key, a plain pipe."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("RUNPLANE_")
        and name not in ("COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE")
    }
    return {**env, "RUNPLANE_URL": url, "RUNPLANE_API_KEY": key}


class Cli:
    """The CLI, pointed at the session's live server with a key of a tenant of its own."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = key

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [RUNPLANE, *args],
            env=cli_env(self.url, self.key),
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=CALL_TIMEOUT,
        )

    def start(self, *args: str) -> "Watcher":
        return Watcher(
            subprocess.Popen(
                [RUNPLANE, *args],
                env=cli_env(self.url, self.key),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )

    def client(self) -> Client:
        return Client(self.url, self.key, timeout=10)


class Watcher:
    """A CLI process still running, whose lines are read as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._next = 0
        self._new: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._new.put(line.rstrip("\n"))
        self._new.put(None)

    def wait_for(self, pattern: str, timeout: float = 15) -> re.Match[str]:
        """The next line, after the one last matched, that matches ``pattern``."""
        deadline = time.monotonic() + timeout
        while True:
            while self._next < len(self.lines):
                self._next += 1
                if found := re.search(pattern, self.lines[self._next - 1]):
                    return found
            left = deadline - time.monotonic()
            try:
                line = self._new.get(timeout=left) if left > 0 else None
            except queue.Empty:
                line = None
            if line is None:
                break
            self.lines.append(line)
        raise AssertionError(f"no line matches {pattern!r}:\n" + "\n".join(self.lines))

    def finish(self, timeout: float = 20) -> tuple[int, str, str]:
        """Exit code, every line of stdout, and stderr, once the process has ended."""
        try:
            self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        while (line := self._new.get(timeout=5)) is not None:
            self.lines.append(line)
        assert self.process.stderr is not None
        return self.process.returncode, "\n".join(self.lines), self.process.stderr.read()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def live(live_server: Any) -> Cli:
    """A tenant of each test's own, so that its user ``alice`` starts with no connection."""
    key = create_key(live_server.database_url, tenant=f"cli-apr-{uuid.uuid4().hex[:8]}")
    return Cli(live_server.url, key)


@pytest.fixture
def client(live: Cli) -> Iterator[Client]:
    with live.client() as c:
        yield c


@pytest.fixture
def watchers() -> Iterator[Callable[[Watcher], Watcher]]:
    """Track watchers so that a failing test leaves no process behind."""
    started: list[Watcher] = []

    def track(watcher: Watcher) -> Watcher:
        started.append(watcher)
        return watcher

    yield track
    for watcher in started:
        watcher.kill()


def output_of(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"


def calls(*tool_calls: dict[str, Any]) -> str:
    return json.dumps({"calls": list(tool_calls)})


def new_run_id(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, output_of(done)
    run_id = done.stdout.splitlines()[0].split()[0]
    assert run_id.startswith("run_"), done.stdout
    return run_id


def wait_for_status(client: Client, run_id: str, status: str, timeout: float = 15) -> RunPublic:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.runs.get(run_id)
        if run.status == status:
            return run
        time.sleep(0.05)
    raise AssertionError(f"{run_id} did not reach {status} in {timeout} s: {run.status}")


def approval_rows(stdout: str) -> dict[str, list[str]]:
    """``{approval id: the row's words}`` of an approvals table."""
    return {
        line.split()[0]: line.split() for line in stdout.splitlines() if line.startswith("apr_")
    }


def pending_id(live: Cli, client: Client, run_id: str) -> str:
    """The id of the approval a paused run waits for, as ``approvals ls`` shows it."""
    wait_for_status(client, run_id, "paused")
    listed = live.run("approvals", "ls", "--run", run_id)
    assert listed.returncode == 0, output_of(listed)
    [approval_id] = approval_rows(listed.stdout)
    return approval_id


def event_types(stdout: str) -> list[tuple[str, str]]:
    """``(type, summary)`` of each event line ``--watch`` printed to a pipe."""
    rows = [re.match(r"^\s*\d+ (\S+)\s*(.*)$", line) for line in stdout.splitlines()]
    return [(m[1], m[2].strip()) for m in rows if m]


# -- approving from the command line --------------------------------------------------


def test_a_paused_call_is_listed_approved_then_waits_for_a_connection_and_succeeds(
    live: Cli, client: Client
) -> None:
    started = live.run(
        "run",
        "call_tools",
        "--approval",
        "ON_TOOL_CALL",
        "--user",
        "alice",
        "--input",
        calls(EMAIL),
    )
    run_id = new_run_id(started)

    approval_id = pending_id(live, client, run_id)
    listed = live.run("approvals", "ls")
    shown = live.run("approvals", "show", approval_id)
    approved = live.run("approvals", "approve", approval_id, "--comment", "go ahead")
    waiting = wait_for_status(client, run_id, "auth_required")
    shown_run = live.run("runs", "show", run_id)
    connected = live.run("connections", "set", "alice", "email", "--secret", "x")
    ended = client.runs.wait(run_id, timeout=15)

    row = approval_rows(listed.stdout)[approval_id]
    assert row[1:3] == [run_id, "tool_call"] and "pending" in row
    assert row[3].startswith("send_email(") and "team@example.com" in listed.stdout
    assert re.search(r"^ID\s+RUN\s+KIND\s+ASKS\s+STATUS\s+CREATED", listed.stdout, re.M)
    assert shown.returncode == 0, output_of(shown)
    assert re.search(r"^asks\s+send_email\(.*team@example\.com", shown.stdout, re.M)
    assert f"approve: runplane approvals approve {approval_id}" in shown.stdout
    assert approved.returncode == 0, output_of(approved)
    assert approved.stdout.startswith(f"{approval_id} approved (run {run_id} resumes)")
    assert waiting.waiting_on == {"integration": "email", "user_id": "alice"}
    assert re.search(r"^waiting on\s+.*\"integration\":\"email\"", shown_run.stdout, re.M)
    assert connected.returncode == 0, output_of(connected)
    assert connected.stdout.splitlines() == ["alice email connected", f"{run_id} resumed"]
    assert ended.status == "succeeded" and ended.result is not None
    assert ended.result.content["results"][0]["output"]["sender"] == "alice"
    decided = client.approvals.get(approval_id)
    assert decided.status == "approved" and decided.comment == "go ahead"


def test_rejecting_with_a_comment_makes_the_agent_report_tool_rejected(
    live: Cli, client: Client
) -> None:
    run_id = new_run_id(
        live.run("run", "call_tools", "--approval", "ON_TOOL_CALL", "--input", calls(NOTES))
    )

    approval_id = pending_id(live, client, run_id)
    rejected = live.run("approvals", "reject", approval_id, "--comment", "not on Mondays")
    ended = client.runs.wait(run_id, timeout=15)
    listed = live.run("approvals", "ls", "--run", run_id, "--status", "rejected")
    pending = live.run("approvals", "ls", "--run", run_id)

    assert rejected.returncode == 0, output_of(rejected)
    assert rejected.stdout.startswith(f"{approval_id} rejected")
    assert ended.status == "succeeded" and ended.result is not None
    [result] = ended.result.content["results"]
    assert result["error"]["code"] == "tool_rejected"
    assert "not on Mondays" in result["error"]["message"]
    assert "rejected" in approval_rows(listed.stdout)[approval_id]
    assert approval_rows(pending.stdout) == {} and "no pending approvals" in pending.stdout


def test_approve_with_arguments_makes_the_call_with_the_edited_arguments(
    live: Cli, client: Client
) -> None:
    run_id = new_run_id(
        live.run("run", "call_tools", "--approval", "ON_TOOL_CALL", "--input", calls(NOTES))
    )
    approval_id = pending_id(live, client, run_id)

    not_json = live.run("approvals", "approve", approval_id, "--arguments", "{day: Friday}")
    approved = live.run("approvals", "approve", approval_id, "--arguments", '{"day": "Friday"}')
    ended = client.runs.wait(run_id, timeout=15)
    shown = live.run("approvals", "show", approval_id)

    assert not_json.returncode == 2 and "--arguments" in not_json.stderr, output_of(not_json)
    assert approved.returncode == 0, output_of(approved)
    assert ended.result is not None
    [notes] = ended.result.content["results"]
    assert {n["day"] for n in notes["output"]} == {"Friday"}
    assert re.search(r'^arguments\s+\{"day":"Friday"\}', shown.stdout, re.M), shown.stdout


def test_deciding_an_approval_twice_exits_1_saying_it_was_already_decided(
    live: Cli, client: Client
) -> None:
    run_id = new_run_id(
        live.run("run", "call_tools", "--approval", "ON_TOOL_CALL", "--input", calls(NOTES))
    )
    approval_id = pending_id(live, client, run_id)
    assert live.run("approvals", "approve", approval_id).returncode == 0

    again = live.run("approvals", "reject", approval_id)
    unknown = live.run("approvals", "approve", "apr_does_not_exist")

    assert again.returncode == 1, output_of(again)
    assert again.stderr.startswith("error: ") and "already decided" in again.stderr
    assert unknown.returncode == 1 and "no approval 'apr_does_not_exist'" in unknown.stderr
    assert "Traceback" not in again.stderr + unknown.stderr
    assert client.runs.wait(run_id, timeout=15).status == "succeeded"


def test_the_link_of_an_approval_decides_it_once_and_a_second_use_is_a_conflict(
    live: Cli, client: Client
) -> None:
    run_id = new_run_id(
        live.run("run", "call_tools", "--approval", "ON_TOOL_CALL", "--input", calls(NOTES))
    )
    approval_id = pending_id(live, client, run_id)
    [event] = [e for e in client.runs.events(run_id).items if e.type == "approval.required"]
    assert "link" not in event.data  # the log names the approval, never its link
    shown = live.run("approvals", "show", approval_id)
    found = re.search(r"^link:\s+(\S+)$", shown.stdout, re.M)
    assert found, shown.stdout
    link = found.group(1)
    assert link == client.approvals.get(approval_id).link

    # The link as sent, opened by someone with no API key: a page that posts the token
    # (the URL's fragment, which no request carries) in request bodies.
    parts = urlparse(link)
    page = httpx.get(f"{parts.scheme}://{parts.netloc}{parts.path}", timeout=10)
    api = f"{parts.scheme}://{parts.netloc}/v1/runs/approval"
    token = parts.fragment
    seen = httpx.post(f"{api}/view", json={"token": token}, timeout=10)
    body = {"token": token, "decision": "approve", "comment": "ok by mail"}
    first = httpx.post(api, json=body, timeout=10)
    second = httpx.post(api, json={"token": token, "decision": "reject"}, timeout=10)

    assert token and not parts.query and page.status_code == 200
    assert seen.status_code == 200 and seen.json()["status"] == "pending", seen.text
    assert first.status_code == 200, first.text
    assert first.json()["id"] == approval_id and first.json()["decided_by"] == "link"
    assert second.status_code == 409, second.text
    assert second.json()["message"] == "this approval link was already used"
    assert client.runs.wait(run_id, timeout=15).status == "succeeded"
    shown = live.run("approvals", "show", approval_id)
    assert re.search(r"^decided by\s+link\s*$", shown.stdout, re.M), shown.stdout
    assert re.search(r"^decided via\s+link\s*$", shown.stdout, re.M), shown.stdout
    assert re.search(r"^comment\s+ok by mail\s*$", shown.stdout, re.M), shown.stdout


# -- watching a run that pauses -------------------------------------------------------


def test_watch_shows_what_a_paused_run_waits_for_follows_it_on_and_exits_0(
    live: Cli, client: Client, watchers: Callable[[Watcher], Watcher]
) -> None:
    watcher = watchers(
        live.start(
            "run",
            "call_tools",
            "--watch",
            "--approval",
            "ON_TOOL_CALL",
            "--user",
            "alice",
            "--input",
            calls(NOTES, EMAIL),
        )
    )

    # Each wait is met by the command the watch printed, run as another process.
    for _ in range(2):
        command = watcher.wait_for(r"approve: (runplane approvals approve (apr_\w+))$")
        watcher.wait_for(rf"waits for a decision on {command[2]}; still following")
        done = live.run(*command[1].split()[1:])
        assert done.returncode == 0, output_of(done)
    connect = watcher.wait_for(r"connect: (runplane connections set alice email) --secret …$")
    watcher.wait_for(r"waits for alice to connect email; still following")
    done = live.run(*connect[1].split()[1:], "--secret", "x")
    assert done.returncode == 0, output_of(done)
    code, stdout, stderr = watcher.finish()

    assert code == 0, f"exit {code}\n{stdout}\n{stderr}"
    run_id, agent, _ = stdout.splitlines()[0].split()
    assert agent == "call_tools"
    events = event_types(stdout)
    statuses = [re.sub(r"apr_\w+", "apr_…", s) for kind, s in events if kind == "status"]
    assert statuses == [
        *("Queued", "Running"),
        *("Waiting for approval (apr_…)", "Running"),  # read_notes approved
        *("Waiting for approval (apr_…)", "Running"),  # send_email approved
        "Waiting for a connection to email for alice",
        "Running (alice connected email)",
        "Succeeded",
    ]
    asked = [s for kind, s in events if kind == "approval.required"]
    assert len(asked) == 2 and "read_notes" in asked[0] and "send_email" in asked[1]
    assert len([s for kind, s in events if kind == "approval.resolved"]) == 2
    assert ("auth.required", "send_email needs alice's email connection") in events
    called = [s.split("(")[0] for kind, s in events if kind == "tool_call"]
    assert called == ["read_notes", "send_email"]
    assert len(re.findall(r"^\s+link:\s+runplane approvals show apr_\w+$", stdout, re.M)) == 2
    assert f"{run_id} succeeded" in stdout.splitlines()
    assert client.runs.get(run_id).status == "succeeded"


def test_a_watched_run_whose_plan_is_rejected_exits_3(
    live: Cli, client: Client, watchers: Callable[[Watcher], Watcher]
) -> None:
    intent = json.dumps({"intent": "email the team the notes from Monday"})
    watcher = watchers(
        live.start("run", "intent", "--watch", "--approval", "ON_START", "--input", intent)
    )

    approve = watcher.wait_for(r"approve: runplane approvals approve (apr_\w+)$")
    done = live.run("approvals", "reject", approve[1], "--comment", "not now")
    code, stdout, stderr = watcher.finish()

    assert done.returncode == 0, output_of(done)
    assert done.stdout.startswith(f"{approve[1]} rejected (run ") and "ends)" in done.stdout
    assert code == 3, f"exit {code}\n{stdout}\n{stderr}"
    resolved = [s for kind, s in event_types(stdout) if kind == "approval.resolved"]
    assert len(resolved) == 1 and resolved[0].startswith(f"{approve[1]} rejected by key:")
    assert resolved[0].endswith(": not now")
    run_id = stdout.splitlines()[0].split()[0]
    assert f"{run_id} canceled" in stdout.splitlines()
    assert client.runs.get(run_id).status == "canceled"


# -- plans ----------------------------------------------------------------------------


def test_run_with_approval_on_start_prints_the_plan_and_the_command_that_approves_it(
    live: Cli, client: Client
) -> None:
    done = live.run(
        "run",
        "intent",
        "--approval",
        "ON_START",
        "--user",
        "alice",
        "--input",
        json.dumps({"intent": "email the team the notes from Monday"}),
        "--context",
        json.dumps({"to": "team@example.com"}),
    )

    run_id = new_run_id(done)
    lines = done.stdout.splitlines()
    assert lines[0] == f"{run_id} paused"
    assert lines[1] == "plan:"
    assert lines[2] == '  1. read_notes({"day":"Monday"})'
    assert lines[3].startswith('  2. send_email({"to":"team@example.com"')
    approval_id = re.fullmatch(r"approve: runplane approvals approve (apr_\w+)", lines[4])
    assert approval_id is not None
    run = client.runs.get(run_id)
    assert run.approval == "ON_START" and run.user_id == "alice"
    assert run.context == {"to": "team@example.com"}
    assert client.approvals.get(approval_id[1]).kind == "plan"
    client.runs.cancel(run_id)


def test_run_options_that_do_not_parse_are_usage_errors_and_start_nothing(
    live: Cli, client: Client
) -> None:
    bad_context = live.run("run", "echo", "--input", "{}", "--context", "[1, 2]")
    bad_approval = live.run("run", "echo", "--input", "{}", "--approval", "SOMETIMES")
    no_names = live.run("run", "echo", "--input", "{}", "--integrations", " , ")

    for done in (bad_context, bad_approval, no_names):
        assert done.returncode == 2, output_of(done)
        assert done.stdout == "" and "Traceback" not in done.stderr
    assert "--context" in bad_context.stderr and "--approval" in bad_approval.stderr
    assert client.runs.list().items == []


def test_run_limited_to_named_integrations_records_them(live: Cli, client: Client) -> None:
    done = live.run(
        "run", "call_tools", "--integrations", "notes,billing", "--wait", "--input", calls(NOTES)
    )

    run_id = new_run_id(done)
    assert client.runs.get(run_id).integrations == ["notes", "billing"]


# -- connections and tools ------------------------------------------------------------


def test_connections_set_from_stdin_ls_and_rm(live: Cli, client: Client) -> None:
    stored = live.run("connections", "set", "bob", "email", "--secret-stdin", stdin="s3cret\n")
    listed = live.run("connections", "ls", "bob")
    removed = live.run("connections", "rm", "bob", "email")
    after = live.run("connections", "ls", "bob")
    no_secret = live.run("connections", "set", "bob", "email")

    assert stored.returncode == 0, output_of(stored)
    assert stored.stdout.strip() == "bob email connected"
    assert re.search(r"^email\s+bob\s+\d{4}-", listed.stdout, re.M), listed.stdout
    assert "s3cret" not in listed.stdout
    assert removed.returncode == 0 and removed.stdout.strip() == "bob email removed"
    assert after.stdout.strip() == "bob has no connection"
    assert no_secret.returncode == 2 and "--secret" in no_secret.stderr, output_of(no_secret)
    assert client.connections.list("bob").items == []


def test_tools_ls_lists_each_tool_with_its_integration_needs_and_arguments(live: Cli) -> None:
    done = live.run("tools", "ls")
    billing = live.run("tools", "ls", "--integration", "billing")

    assert done.returncode == 0, output_of(done)
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:] if line.strip()}
    assert {"read_notes", "send_email", "get_balance", "pay"} <= set(rows)
    assert re.match(r"^send_email\s+email\s+connection\s+to, subject, body\s", rows["send_email"])
    assert re.match(r"^get_balance\s+billing\s+≤2/s\s+account\s", rows["get_balance"])
    assert "[time]" in rows["create_event"]  # optional arguments in brackets
    assert {line.split()[0] for line in billing.stdout.splitlines()[1:]} == {"get_balance", "pay"}


def test_a_new_link_replaces_the_old_one_and_a_revoked_link_is_gone(
    live: Cli, client: Client
) -> None:
    run_id = new_run_id(
        live.run("run", "call_tools", "--approval", "ON_TOOL_CALL", "--input", calls(NOTES))
    )
    approval_id = pending_id(live, client, run_id)
    old = client.approvals.get(approval_id).link

    made = live.run("approvals", "link", approval_id)
    revoked = live.run("approvals", "revoke-link", approval_id)

    assert made.returncode == 0, output_of(made)
    new = made.stdout.strip()
    assert old and "/console/approval-link#" in new and new != old
    assert revoked.returncode == 0, output_of(revoked)
    assert revoked.stdout.strip() == f"{approval_id}: link revoked (still pending)"
    for link in (old, new):
        token = urlparse(link).fragment
        gone = httpx.post(
            f"{live.url}/v1/runs/approval", json={"token": token, "decision": "approve"}
        )
        assert gone.status_code == 410, gone.text
    assert client.approvals.get(approval_id).status == "pending"
    client.approvals.approve(approval_id)
    assert client.runs.wait(run_id, timeout=15).status == "succeeded"
