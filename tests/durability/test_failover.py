"""Failover: a dead worker's runs finish on another; a worker that comes back is fenced.

One API server and two workers share a database, with the defaults a deployment has
(heartbeat 1 s, dead after 5 s). The ``steps`` agent appends "<run_id> <index>" to its
process's ``steps.log`` at the start of each step, so the logs say which process ran
which step how often. The figures each test measures are printed (``pytest -s``).

A worker stopped with SIGSTOP is silent exactly as a host cut off from the network is:
it holds its runs and its connections, and, resumed, carries on from where it was. The
last test cuts a real link: each worker is a host of its own (a network namespace,
``runplane.testing.netns``), reaching Postgres over a bridge.
"""

import json
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from clean_chain import assert_chain_verifies
from test_crash_recovery import (
    SIDE_EFFECTS,
    client,
    create_run,
    events_of,
    key_in_background,
    step_executions,
    wait_until_ended,
)

from runplane.store.dialect import is_sqlite, plain_url, sqlite_path
from runplane.testing import netns
from runplane.testing.server import LiveServer

DEAD_AFTER = 5.0  # the default: the figures are a deployment's
STEPS = 8
BOOT_SECONDS = 120.0
PROJECT = Path(__file__).parents[2] / "runplane.toml"


def worker_env(effects: Path, name: str, **extra: str) -> dict[str, str]:
    (effects / name).mkdir(parents=True, exist_ok=True)
    return {
        SIDE_EFFECTS: str(effects / name),
        "RUNPLANE_EXECUTOR_ID": name,
        "RUNPLANE_HEARTBEAT_SECONDS": "1",
        "RUNPLANE_EXECUTOR_DEAD_AFTER": str(DEAD_AFTER),
        "RUNPLANE_LOG_FORMAT": "json",
        **extra,
    }


class Fleet:
    """An API server and workers ``worker-a`` and ``worker-b`` on one database.

    With ``network``, each worker is a host of its own on it, reaching the database
    through the bridge; the API server stays in this namespace.
    """

    def __init__(self, url: str, cwd: Path, network: netns.Network | None = None) -> None:
        self.url = url
        self.effects = cwd / "effects"
        self.hosts: dict[str, netns.Host] = {}
        self.workers: dict[str, LiveServer] = {}
        over_bridge = network.reach(url) if network is not None else url
        for name in ("worker-a", "worker-b"):
            # Six runs at once each: neither worker can take all twelve runs of a test.
            env = worker_env(self.effects, name, RUNPLANE_CONCURRENCY="6")
            if network is None:
                self.workers[name] = LiveServer(url, cwd=cwd, project=PROJECT, api=False, env=env)
                continue
            self.hosts[name] = host = network.add_host(name)
            self.workers[name] = network.server(
                host, over_bridge, cwd=cwd / name, project=PROJECT, api=False, env=env
            )
        # Every run admitted at once: the tenant's quota is not under test here.
        env = worker_env(self.effects, "api", RUNPLANE_TENANT_MAX_RUNNING="1000")
        self.api_server = LiveServer(url, cwd=cwd, project=PROJECT, worker=False, env=env)

    def __enter__(self) -> "Fleet":
        with ThreadPoolExecutor() as pool:
            key = key_in_background(pool, self.url, "failover")
            for worker in self.workers.values():
                worker.start()  # a worker is not waited for: they all boot at once
            # Generous: three interpreters boot at once on a machine that may be busy.
            self.api_server.start(timeout=BOOT_SECONDS)
        self.api = client(self.api_server, key.result())
        wait_for(lambda: {"worker-a", "worker-b"} <= set(self.executors()), BOOT_SECONDS, "workers")
        return self

    def __exit__(self, *exc: object) -> None:
        for server in (self.api_server, *self.workers.values()):
            if server.process is not None and server.process.poll() is None:
                server.process.send_signal(signal.SIGCONT)
            server.stop()

    def executors(self) -> list[str]:
        return [r[0] for r in query(self.url, "SELECT id FROM executors")]

    def log(self, name: str) -> list[dict[str, Any]]:
        """The JSON lines of a worker's output."""
        path = self.workers[name].log_path
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        out = []
        for line in lines:
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill
        return out

    def ran(self, run_id: str, *names: str) -> Counter[int]:
        """How often each step of a run began, in the named processes (default: all)."""
        folders = names or ("api", "worker-a", "worker-b")
        return sum((step_executions(self.effects / n, run_id) for n in folders), Counter())

    def detection(self, by: str, dead: str, timeout: float) -> datetime:
        """When ``by`` declared ``dead`` dead, from its log."""

        def found() -> dict[str, Any] | None:
            for line in self.log(by):
                if line.get("dead_executor") == dead:
                    return line
            return None

        line = wait_for(found, timeout, f"{by} declares {dead} dead")
        return parse_time(line["detected_at"])


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    if is_sqlite(url):
        with closing(sqlite3.connect(sqlite_path(url), timeout=10)) as conn:
            return conn.execute(sql).fetchall()
    with psycopg.connect(plain_url(url)) as conn:
        return conn.execute(sql).fetchall()


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for: {what}")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def runs_started_by(fleet: Fleet, name: str, run_ids: list[str]) -> list[str]:
    return [r for r in run_ids if fleet.ran(r, name)]


def check_no_finished_step_ran_twice(fleet: Fleet, run_id: str) -> tuple[int, int]:
    """The run's log is whole and its chain verifies; no recorded step began again.

    Returns (finished steps that ran again, in-flight steps that ran again): a step that
    had begun but was not recorded as finished when its worker died runs again, once.
    """
    events = events_of(fleet.api, run_id)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    for kind in ("step.started", "step.completed"):
        numbers = sorted(e["data"]["number"] for e in events if e["type"] == kind)
        assert numbers == list(range(1, STEPS + 1)), (run_id, kind, numbers)
    assert events[-1]["type"] == "status" and events[-1]["data"]["status"] == "succeeded"
    assert_chain_verifies(fleet.api, run_id, events)
    takeover = next((e["seq"] for e in events if e["type"] == "takeover"), None)
    finished_before = {
        e["data"]["number"]
        for e in events
        if e["type"] == "step.completed" and takeover is not None and e["seq"] < takeover
    }
    ran = fleet.ran(run_id)
    assert set(ran) == set(range(1, STEPS + 1)), (run_id, ran)
    again = [n for n, count in ran.items() if count > 1]
    assert all(ran[n] == 2 for n in again), (run_id, ran)
    assert len(again) <= 1, f"only the step in flight may run again: {run_id} {ran}"
    return len(finished_before & set(again)), len(again)


def takeover_times(fleet: Fleet, run_ids: list[str], detected: datetime) -> dict[str, datetime]:
    """When each run still going at ``detected`` was first written by its new worker.

    That is its claim: a ``takeover`` event if the dead worker had claimed it, else its
    move to ``running`` (the dead worker began it but never got a write through).
    """
    out = {}
    for run_id in run_ids:
        events = events_of(fleet.api, run_id)
        before = [e for e in events if parse_time(e["at"]) < detected]
        if (
            before
            and before[-1]["type"] == "status"
            and before[-1]["data"]["status"]
            in (
                "succeeded",
                "failed",
                "canceled",
            )
        ):
            continue
        after = [parse_time(e["at"]) for e in events if parse_time(e["at"]) >= detected]
        if after:
            out[run_id] = after[0]
    return out


@contextmanager
def stopped(server: LiveServer, url: str) -> Iterator[None]:
    """SIGSTOP the server between two transactions; SIGCONT on leaving the block.

    Stopped inside a transaction, a process would hold SQLite's write lock (one host,
    one file: nobody could write until it resumes); on Postgres its row locks last until
    the session's idle-in-transaction timeout (the dead-after time) ends them. The
    second case is real, but these tests measure takeover, so they stop it cleanly.
    """
    assert server.process is not None
    pid = server.process.pid
    for _ in range(200):
        server.process.send_signal(signal.SIGSTOP)
        if not holds_a_transaction(url, pid, server):
            break
        server.process.send_signal(signal.SIGCONT)
        time.sleep(0.02)
    else:
        raise AssertionError("the worker was inside a transaction at every try")
    try:
        yield
    finally:
        server.process.send_signal(signal.SIGCONT)


def holds_a_transaction(url: str, pid: int, server: LiveServer) -> bool:
    if is_sqlite(url):
        path = sqlite_path(url)
        for db in (path, path.with_name(path.stem + ".dbos.db")):
            try:
                with closing(sqlite3.connect(db, timeout=0.3)) as conn:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.rollback()
            except sqlite3.OperationalError:
                return True
        return False
    name = f"runplane {server.extra_env['RUNPLANE_EXECUTOR_ID']}"
    rows = query(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
        f"'{name}' AND state LIKE 'idle in transaction%' AND query NOT LIKE '%advisory%'",
    )
    return bool(rows[0][0])


@pytest.mark.timeout(240)
def test_a_killed_workers_runs_finish_elsewhere_within_5_s_of_detection_no_step_twice(
    new_database: Callable[[str], str], tmp_path: Path
) -> None:
    with Fleet(new_database("failover"), tmp_path) as fleet, closing(fleet.api):
        runs = [
            create_run(fleet.api, "steps", {"steps": STEPS, "sleep": 0.4})["id"] for _ in range(30)
        ]
        wait_for(lambda: len(runs_started_by(fleet, "worker-a", runs)) >= 5, 60, "worker-a busy")

        fleet.workers["worker-a"].kill()
        killed = datetime.now(UTC)
        held = runs_started_by(fleet, "worker-a", runs)

        detected = fleet.detection("worker-b", "worker-a", timeout=60)
        for run_id in runs:
            done = wait_until_ended(fleet.api, run_id, timeout=90)
            assert done["status"] == "succeeded", (done, fleet.workers["worker-b"].log_tail())
        repeated = [check_no_finished_step_ran_twice(fleet, r) for r in runs]
        claimed = takeover_times(fleet, held, detected)

    unfinished = [r for r in held if len(fleet.ran(r, "worker-a")) < STEPS]
    assert unfinished, "worker-a was killed too late to test anything"
    assert claimed, "no run of worker-a's was taken over"
    delays = sorted((at - detected).total_seconds() for at in claimed.values())
    print(
        f"\nSIGKILL: {len(held)} runs begun on worker-a, {len(claimed)} taken over; "
        f"detected {(detected - killed).total_seconds():.2f} s after the kill "
        f"(dead after {DEAD_AFTER:g} s); takeover after detection: "
        f"min {delays[0]:.2f} s, max {delays[-1]:.2f} s; "
        f"finished steps run again: {sum(f for f, _ in repeated)}; "
        f"in-flight steps run again: {sum(a for _, a in repeated)}"
    )
    assert sum(f for f, _ in repeated) == 0
    assert delays[-1] <= 5.0, delays


@pytest.mark.timeout(240)
def test_a_worker_cut_off_and_back_is_fenced_its_writes_refused(
    new_database: Callable[[str], str], tmp_path: Path
) -> None:
    with Fleet(new_database("fenced"), tmp_path) as fleet, closing(fleet.api):
        worker_a = fleet.workers["worker-a"]
        runs = [
            create_run(fleet.api, "steps", {"steps": STEPS, "sleep": 1.0})["id"] for _ in range(12)
        ]
        # Eight seconds a run: a loaded machine may take seconds to find worker-a between
        # two transactions, and worker-a must still be in the middle of runs by then.
        wait_for(lambda: len(runs_started_by(fleet, "worker-a", runs)) >= 3, 60, "worker-a busy")

        with stopped(worker_a, fleet.url):
            cut = datetime.now(UTC)
            held = runs_started_by(fleet, "worker-a", runs)
            began_before = {r: fleet.ran(r, "worker-a") for r in held}
            detected = fleet.detection("worker-b", "worker-a", timeout=60)
            for run_id in runs:
                done = wait_until_ended(fleet.api, run_id, timeout=90)
                assert done["status"] == "succeeded", done
            claimed = takeover_times(fleet, held, detected)
        # worker-a runs again: everything it still had in flight must be refused.
        resumed = datetime.now(UTC)

        def fenced_runs() -> set[str]:
            return {line["run_id"] for line in fleet.log("worker-a") if line.get("fenced") is True}

        wait_for(lambda: set(claimed) <= fenced_runs(), 30, "worker-a refused on each run")
        time.sleep(2)  # anything it would still do, it has done by now
        repeated = [check_no_finished_step_ran_twice(fleet, r) for r in runs]
        rows = dict(
            (r[0], (r[1], r[2])) for r in query(fleet.url, "SELECT id, owner, epoch FROM runs")
        )

    assert claimed, "worker-a held no unfinished run when it was cut off"
    for run_id in claimed:
        # Not one step more from worker-a once it was cut off: its next write was refused.
        assert fleet.ran(run_id, "worker-a") == began_before[run_id], run_id
        owner, epoch = rows[run_id]
        assert owner == "worker-b" and epoch >= 1, rows[run_id]
    delays = sorted((at - detected).total_seconds() for at in claimed.values())
    refusals = [line for line in fleet.log("worker-a") if line.get("fenced") is True]
    print(
        f"\nSIGSTOP: {len(held)} runs begun on worker-a, {len(claimed)} taken over; "
        f"detected {(detected - cut).total_seconds():.2f} s after the cut; takeover after "
        f"detection: max {delays[-1]:.2f} s; after SIGCONT worker-a's writes were refused "
        f"{len(refusals)} times on {len(fenced_runs())} runs "
        f"(first {min(parse_time(r['at']) for r in refusals) - resumed} after resuming); "
        f"finished steps run again: {sum(f for f, _ in repeated)}"
    )
    assert sum(f for f, _ in repeated) == 0
    assert delays[-1] <= 5.0, delays


@pytest.fixture
def network(db_kind: str) -> Iterator[netns.Network]:
    if db_kind != "postgres":
        pytest.skip("hosts share one database server: Postgres only")
    reason = netns.unavailable()
    if reason is not None:
        pytest.skip(f"cannot make network namespaces here: {reason}")
    with netns.Network() as net:
        yield net


@pytest.mark.timeout(300)
def test_a_host_cut_off_stops_on_its_own_and_its_writes_are_refused_when_back(
    network: netns.Network, new_database: Callable[[str], str], tmp_path: Path
) -> None:
    with Fleet(new_database("cut"), tmp_path, network) as fleet, closing(fleet.api):
        runs = [
            create_run(fleet.api, "steps", {"steps": STEPS, "sleep": 1.0})["id"] for _ in range(12)
        ]
        # Eight seconds a run: a loaded machine may take seconds to find worker-a between
        # two transactions, and worker-a must still be in the middle of runs by then.
        wait_for(lambda: len(runs_started_by(fleet, "worker-a", runs)) >= 3, 60, "worker-a busy")

        network.cut(fleet.hosts["worker-a"])
        cut = datetime.now(UTC)
        # Within half the dead-after time its beats have failed long enough: it starts
        # nothing new from then on (self-fencing), though nobody can tell it anything.
        time.sleep(DEAD_AFTER / 2 + 0.5)
        held = runs_started_by(fleet, "worker-a", runs)
        began_before = {r: fleet.ran(r, "worker-a") for r in held}
        detected = fleet.detection("worker-b", "worker-a", timeout=60)
        for run_id in runs:
            done = wait_until_ended(fleet.api, run_id, timeout=120)
            assert done["status"] == "succeeded", done
        claimed = takeover_times(fleet, held, detected)
        assert {r: fleet.ran(r, "worker-a") for r in held} == began_before, "no step while cut"

        network.reconnect(fleet.hosts["worker-a"])
        back = datetime.now(UTC)

        def fenced_runs() -> set[str]:
            return {line["run_id"] for line in fleet.log("worker-a") if line.get("fenced") is True}

        # Its held runs, and its writes stuck in retries, are refused once it gets through.
        wait_for(lambda: set(claimed) <= fenced_runs(), 90, "worker-a refused on each run")
        time.sleep(2)
        repeated = [check_no_finished_step_ran_twice(fleet, r) for r in runs]
        rows = {r[0]: (r[1], r[2]) for r in query(fleet.url, "SELECT id, owner, epoch FROM runs")}

    assert claimed, "worker-a held no unfinished run when it was cut off"
    for run_id in claimed:
        assert fleet.ran(run_id, "worker-a") == began_before[run_id], run_id
        owner, epoch = rows[run_id]
        assert owner == "worker-b" and epoch >= 1, rows[run_id]
    delays = sorted((at - detected).total_seconds() for at in claimed.values())
    refusals = [line for line in fleet.log("worker-a") if line.get("fenced") is True]
    holds = [line for line in fleet.log("worker-a") if "self-fencing" in line.get("message", "")]
    print(
        f"\nlink cut: {len(held)} runs begun on worker-a, {len(claimed)} taken over; "
        f"detected {(detected - cut).total_seconds():.2f} s after the cut; takeover after "
        f"detection: max {delays[-1]:.2f} s; runs held at a step by worker-a itself (self-fencing): {len(holds)}; "
        f"reconnected, its writes were refused on {len(fenced_runs())} runs "
        f"(last {max(parse_time(r['at']) for r in refusals) - back} after reconnecting); "
        f"finished steps run again: {sum(f for f, _ in repeated)}"
    )
    assert sum(f for f, _ in repeated) == 0
    assert delays[-1] <= 5.0, delays
