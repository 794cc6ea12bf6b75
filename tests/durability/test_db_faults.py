"""Database faults under load: a run accepted is never lost, whatever the database does.

A live server talks to a private Postgres through a fault proxy (``runplane.testing``).
Each test starts a bounded load (runs of the ``steps`` agent, which logs each step's
execution to a file, and graph runs on threads through the Agent Protocol), then hits
the database with one fault while the runs are in flight: new connections refused,
every connection reset mid-transaction, all traffic stalled, Postgres restarted, every
connection slot taken. Then every accepted run must end (succeeded, or failed with a
clear error), no step may have run twice, every run's log must be gapless with its hash
chain intact, and nothing may stay queued or running, in runplane or in DBOS.

Postgres only (SQLite has no server to lose); the tests share one private Postgres and
run one after another (``xdist_group``).
"""

import asyncio
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from clean_chain import assert_chain_verifies
from test_crash_recovery import SIDE_EFFECTS, step_executions

from runplane.store.notify import CHANNEL, Listener
from runplane.testing import postgres
from runplane.testing.faults import FaultProxy
from runplane.testing.postgres import PrivatePostgres
from runplane.testing.server import LiveServer, create_key

PROJECT = Path(__file__).resolve().parents[2] / "runplane.toml"
TEST_DB = os.environ.get("RUNPLANE_TEST_DB", "sqlite")
pytestmark = [
    pytest.mark.skipif(TEST_DB != "postgres", reason="database faults need a Postgres server"),
    pytest.mark.skipif(postgres.unavailable() is not None, reason=str(postgres.unavailable())),
    pytest.mark.xdist_group("db_faults"),
    pytest.mark.slow,
    pytest.mark.timeout(120),
]

STEPS = 3
ENDED = ("succeeded", "failed", "canceled")
# What the server under test is told: small pools, and a quick reconciler, so that a run
# whose workflow a fault lost would be repaired within the test.
PROCESSES = 2  # as in issue 12: two processes, each its own executor
SERVER_ENV = {
    "RUNPLANE_PROCESSES": str(PROCESSES),
    "RUNPLANE_CONCURRENCY": "16",
    "RUNPLANE_DB_CONNECTIONS": "12",  # the per-process budget
    "RUNPLANE_RECONCILE_AFTER": "5",
    "RUNPLANE_LOG_LEVEL": "warning",
}


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    """One private Postgres for the module's tests."""
    with PrivatePostgres(max_connections=100) as pg:
        yield pg


@dataclass
class Load:
    """The runs one test asked for: those accepted, and how the other requests ended."""

    steps_runs: list[str] = field(default_factory=list)
    graph_runs: list[str] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def accepted(self) -> list[str]:
        return self.steps_runs + self.graph_runs


class Bench:
    """A server behind a fault proxy, on a database of the private Postgres.

    One for the module (a server takes many seconds to start on a loaded machine): each
    test brings its own ``Load`` and checks its own runs, and every run in the database.
    """

    def __init__(self, pg: PrivatePostgres, tmp: Path) -> None:
        self.pg = pg
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute('CREATE DATABASE "faults"')
        self.direct_url = pg.url.rsplit("/", 1)[0] + "/faults"
        self.proxy = FaultProxy(pg.port).start()
        self.effects = tmp / "effects"
        self.effects.mkdir()
        key = create_key(self.direct_url, tenant="faults")
        self.server = LiveServer(
            self.proxy.url_for(self.direct_url),
            cwd=tmp,
            project=PROJECT,
            env={**SERVER_ENV, SIDE_EFFECTS: str(self.effects)},
        ).start(timeout=60)
        self.headers = {"Authorization": f"Bearer {key}"}
        self.load = Load()
        # The server answers once one process is up: the faults wait for both.
        deadline = time.monotonic() + 60
        while self._sql("SELECT count(*) FROM executors")[0][0] < PROCESSES:
            assert time.monotonic() < deadline, self.server.log_tail()
            time.sleep(0.1)

    def client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers=self.headers, timeout=timeout)

    def close(self) -> None:
        self.server.stop()
        self.proxy.close()

    # -- load -------------------------------------------------------------------------

    def submit(self, steps_runs: int, graph_runs: int, sleep: float = 0.2) -> None:
        """Ask for runs, a few at a time; note which were accepted and why others were not."""

        def steps_run(api: httpx.Client) -> None:
            body = {"agent_id": "steps", "input": {"steps": STEPS, "sleep": sleep}}
            r = api.post("/v1/runs", json=body)
            self._note(r, 201, self.load.steps_runs, "id")

        def graph_run(api: httpx.Client) -> None:
            r = api.post("/threads", json={})
            if r.status_code != 200:
                self._note(r, 200, [], "thread_id")
                return
            body = {"assistant_id": "lg_steps5", "input": {"message": "hi"}}
            r = api.post(f"/threads/{r.json()['thread_id']}/runs", json=body)
            self._note(r, 200, self.load.graph_runs, "run_id")

        jobs = [steps_run] * steps_runs + [graph_run] * graph_runs
        with self.client() as api, ThreadPoolExecutor(6) as pool:
            for done in [pool.submit(self._ask, job, api) for job in jobs]:
                done.result()

    def _ask(self, job: Callable[[httpx.Client], None], api: httpx.Client) -> None:
        try:
            job(api)
        except httpx.HTTPError as exc:
            with self.load.lock:
                self.load.refused[type(exc).__name__] += 1

    def _note(self, r: httpx.Response, ok: int, runs: list[str], key: str) -> None:
        with self.load.lock:
            if r.status_code == ok:
                runs.append(r.json()[key])
            else:
                self.load.refused[str(r.status_code)] += 1

    def in_background(self, steps_runs: int, graph_runs: int) -> threading.Thread:
        """Keep asking for runs while the test does something else (the fault)."""
        thread = threading.Thread(target=self.submit, args=(steps_runs, graph_runs))
        thread.start()
        return thread

    def wait_until_running(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._sql("SELECT count(*) FROM runs WHERE status = 'running'")[0][0]:
                return
            time.sleep(0.05)
        raise AssertionError(f"no run started in {timeout} s:\n{self.server.log_tail()}")

    # -- the verdict ------------------------------------------------------------------

    def _sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.direct_url, autocommit=True, connect_timeout=10) as conn:
            return conn.execute(query, params).fetchall()  # type: ignore[arg-type]

    def wait_until_all_ended(self, timeout: float = 60) -> None:
        """Every run in the database ended (accepted or not), or the test fails."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                open_runs = self._sql(
                    "SELECT id, status FROM runs WHERE status NOT IN "
                    "('succeeded', 'failed', 'canceled', 'paused', 'auth_required')"
                )
            except psycopg.OperationalError:
                open_runs = [("?", "database unreachable")]
            if not open_runs:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(open_runs)} runs never ended: {open_runs[:5]}\n"
                    f"{self.server.log_tail(60)}"
                )
            time.sleep(0.25)

    def wait_until_workflows_ended(self, timeout: float = 30) -> None:
        """Nothing left for DBOS to do: no workflow pending or queued for good.

        A workflow records its outcome after its run's end, retrying (DBOS backs off up
        to a minute) while the database is out: it may lag behind the run for a while.
        """
        deadline = time.monotonic() + timeout
        while live := self._sql(
            "SELECT w.workflow_uuid, w.status, w.executor_id, w.updated_at, r.status "
            "FROM dbos.workflow_status w LEFT JOIN runs r ON r.id = split_part("
            "w.workflow_uuid, '.', 1) WHERE w.status IN ('PENDING', 'ENQUEUED', 'DELAYED')"
        ):
            assert time.monotonic() < deadline, f"{live}\n{self.server.log_tail(60)}"
            time.sleep(0.25)

    def verdict(self, fault: str) -> dict[str, Any]:
        """Check every promise; return the counts."""
        self.wait_until_all_ended()
        load = self.load
        stored = {r[0]: r[1] for r in self._sql("SELECT id, status FROM runs")}
        assert set(load.accepted) <= set(stored), "an accepted run is not in the database"
        self.wait_until_workflows_ended()
        statuses: Counter[str] = Counter()
        with self.client() as api:
            for run_id in load.accepted:
                run = api.get(f"/v1/runs/{run_id}").json()
                statuses[run["status"]] += 1
                assert run["status"] in ("succeeded", "failed"), run
                if run["status"] == "failed":  # a clear error: a code and words
                    assert run["error"]["code"] and run["error"]["message"], run
                self._check_log(api, run_id, run["status"], run_id in load.steps_runs)
        reconciled = self._sql(
            "SELECT count(*) FROM events WHERE type = 'reconciled' AND run_id = ANY(%s)",
            (load.accepted,),
        )[0][0]
        counts = {
            "fault": fault,
            "accepted": len(load.accepted),
            "graph_runs": len(load.graph_runs),
            "ended": sum(statuses.values()),
            "succeeded": statuses["succeeded"],
            "failed": statuses["failed"],
            "not_accepted": dict(load.refused),
            "runs_in_db": len(stored),  # all tests' so far
            "reconciled": reconciled,
            "proxy": {"reset": self.proxy.reset, "refused": self.proxy.refused},
        }
        print("FAULT-RESULT " + json.dumps(counts))
        return counts

    def _check_log(self, api: httpx.Client, run_id: str, status: str, steps_agent: bool) -> None:
        """Gapless, chain intact; each step started and completed once, and ran once."""
        events = api.get(f"/v1/runs/{run_id}/events", params={"limit": 1000}).json()["items"]
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), run_id
        assert_chain_verifies(api, run_id, events)
        if status != "succeeded":
            return
        for kind in ("step.started", "step.completed"):
            numbers = [e["data"]["number"] for e in events if e["type"] == kind]
            assert numbers == sorted(set(numbers)), (run_id, kind, numbers)
        if steps_agent:
            ran = step_executions(self.effects, run_id)
            assert set(ran) == set(range(1, STEPS + 1)), (run_id, ran)
            again = sorted(n for n, count in ran.items() if count > 1)
            if again:
                # Only a step in flight when its attempt was recovered (a workflow the
                # outage ended, restarted by the reconciler) may run again, and once: the
                # guarantee a crash gives. A step recorded as finished never runs again.
                mark = next(
                    (e["seq"] for e in events if e["type"] in ("reconciled", "takeover")), None
                )
                assert mark is not None and len(again) == 1, (run_id, ran)
                finished = {
                    e["data"]["number"]
                    for e in events
                    if e["type"] == "step.completed" and e["seq"] < mark
                }
                assert ran[again[0]] == 2 and again[0] not in finished, (run_id, ran, mark)
        else:
            names = [e["data"]["name"] for e in events if e["type"] == "step.completed"]
            assert names == ["s1", "s2", "s3", "s4", "s5"], (run_id, names)


@pytest.fixture(scope="module")
def server(
    private_pg: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Bench]:
    """The module's server behind its fault proxy."""
    b = Bench(private_pg, tmp_path_factory.mktemp("faults"))
    yield b
    b.close()


@pytest.fixture
def bench(server: Bench) -> Bench:
    """The server, with no fault on, and a new load for this test."""
    server.proxy.passing()
    server.proxy.reset = server.proxy.refused = 0
    server.load = Load()
    return server


def under_fault(bench: Bench, fault: Callable[[], None], name: str) -> dict[str, Any]:
    """Runs in flight, more asked for while ``fault()`` happens; then the verdict."""
    bench.submit(steps_runs=20, graph_runs=4)
    bench.wait_until_running()
    more = bench.in_background(steps_runs=15, graph_runs=4)
    fault()
    more.join(60)
    return bench.verdict(name)


def test_connections_refused_for_a_few_seconds(bench: Bench) -> None:
    def refuse() -> None:
        # The database out of reach: what was open is reset, what is opened is refused.
        with bench.proxy.fault("refusing"):
            bench.proxy.cut()
            time.sleep(4)

    counts = under_fault(bench, refuse, "refused 4 s")
    assert counts["ended"] == counts["accepted"] > 0


def test_every_connection_cut_mid_transaction(bench: Bench) -> None:
    def cut() -> None:
        for _ in range(3):
            bench.proxy.cut()
            time.sleep(1)

    counts = under_fault(bench, cut, "cut x3")
    assert counts["proxy"]["reset"] > 0
    assert counts["ended"] == counts["accepted"] > 0


def test_all_traffic_stalled_for_ten_seconds(bench: Bench) -> None:
    def stall() -> None:
        with bench.proxy.fault("stalling"):
            time.sleep(10)

    counts = under_fault(bench, stall, "stalled 10 s")
    assert counts["ended"] == counts["accepted"] > 0


def test_postgres_restarted_under_load(bench: Bench) -> None:
    counts = under_fault(bench, lambda: bench.pg.restart(down_seconds=2), "restarted")
    assert counts["ended"] == counts["accepted"] > 0


def test_every_connection_slot_taken(bench: Bench) -> None:
    def exhaust() -> None:
        # As in issue 12: the server's connections are lost while other clients take every
        # slot, so each connection it opens again is refused with "too many clients".
        held: list[psycopg.Connection[Any]] = []
        bench.proxy.refusing()
        fill(bench.pg, held)
        bench.proxy.cut()
        time.sleep(0.3)
        fill(bench.pg, held)  # the slots the server's connections left
        bench.proxy.passing()
        time.sleep(5)
        for conn in held:
            conn.close()

    counts = under_fault(bench, exhaust, "max_connections")
    assert counts["ended"] == counts["accepted"] > 0


def fill(pg: PrivatePostgres, held: list[psycopg.Connection[Any]]) -> None:
    """Open connections until Postgres refuses one for want of slots."""
    while True:
        try:
            held.append(psycopg.connect(pg.url, autocommit=True, connect_timeout=5))
        except psycopg.OperationalError as exc:
            assert "too many clients" in str(exc) or "reserved" in str(exc), exc
            return


async def test_the_listen_connection_comes_back_after_a_cut_and_a_restart(
    private_pg: PrivatePostgres,
) -> None:
    heard: list[str] = []
    with FaultProxy(private_pg.port) as proxy:
        listener = Listener(proxy.url_for(private_pg.url), {CHANNEL: heard.append})
        await listener.start()
        try:
            for n, fault in enumerate((proxy.cut, lambda: private_pg.restart(down_seconds=1))):
                await asyncio.to_thread(fault)
                await until(lambda n=n: listener.reconnects > n, "the listener to reconnect")
                run_id = f"run_after_fault_{n}"
                # As another process announces a change (its origin is not ours).
                with psycopg.connect(private_pg.url, autocommit=True) as conn:
                    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{run_id} elsewhere"))
                await until(lambda r=run_id: r in heard, f"{run_id} to be heard")
        finally:
            await listener.stop()


async def until(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        await asyncio.sleep(0.05)
