"""Graceful drain: SIGTERM lets running steps finish, hands the rest on, and exits 0.

Real processes, signalled with ``os.kill``; the ``steps`` agent logs the start of each
step to its process's ``steps.log`` (``RUNPLANE_EXAMPLES_SIDE_EFFECTS``), so the logs
say which process ran which step how often.
"""

import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from test_crash_recovery import (
    SIDE_EFFECTS,
    client,
    create_run,
    key_in_background,
    step_executions,
    wait_for_step_start,
    wait_until_ended,
)

from runplane.store.dialect import sync_url
from runplane.testing.server import LiveServer

# Each test boots up to three interpreters, on a machine that may be busy.
pytestmark = pytest.mark.timeout(180)

# Nobody is declared dead during these tests: a prompt finish elsewhere is the drain's.
NEVER_DEAD = {"RUNPLANE_EXECUTOR_DEAD_AFTER": "60", "RUNPLANE_HEARTBEAT_SECONDS": "0.5"}


def effects_env(effects: Path, name: str, **extra: str) -> dict[str, str]:
    (effects / name).mkdir(parents=True, exist_ok=True)
    return {SIDE_EFFECTS: str(effects / name), "RUNPLANE_EXECUTOR_ID": name, **NEVER_DEAD, **extra}


def executors(url: str) -> set[str]:
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return {r[0] for r in conn.execute(sa.text("SELECT id FROM executors"))}
    finally:
        engine.dispose()


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)


def terminate(server: LiveServer) -> "Callable[[float], int]":
    """Send SIGTERM; return a wait for the exit code."""
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGTERM)
    return server.process.wait


def test_a_process_exits_0_once_its_running_step_ends_and_the_run_completes(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str], tmp_path: Path
) -> None:
    effects = tmp_path / "effects"
    url = new_database("drain_one")
    with ThreadPoolExecutor() as pool:
        key = key_in_background(pool, url, "drain")
        env = effects_env(effects, "all", RUNPLANE_DRAIN_SECONDS="30")
        server = start_server(database_url=url, env=env)
    with client(server, key.result()) as api:
        run = create_run(api, "steps", {"steps": 1, "sleep": 2})
        wait_for_step_start(api, run["id"], 1)
        began = time.monotonic()
        code = terminate(server)(30)
        took = time.monotonic() - began

    assert code == 0, server.log_tail()
    assert took < 15, took  # the step's 2 s and a shutdown, not the 30 s grace
    engine = sa.create_engine(sync_url(url))
    with engine.connect() as conn:
        status = conn.execute(
            sa.text("SELECT status FROM runs WHERE id = :id"), {"id": run["id"]}
        ).scalar_one()
    engine.dispose()
    assert status == "succeeded"
    assert step_executions(effects / "all", run["id"]) == Counter({1: 1})


def test_a_drained_workers_run_finishes_on_another_with_each_step_once(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str], tmp_path: Path
) -> None:
    effects = tmp_path / "effects"
    url = new_database("drain_two")
    with ThreadPoolExecutor() as pool:
        key = key_in_background(pool, url, "drain")
        api_server = start_server(database_url=url, worker=False, env=effects_env(effects, "api"))
    workers = {
        name: start_server(
            database_url=url,
            api=False,
            env=effects_env(effects, name, RUNPLANE_DRAIN_SECONDS="3"),
        )
        for name in ("worker-a", "worker-b")
    }
    wait_for(lambda: set(workers) <= executors(url), 90, "both workers up")
    with client(api_server, key.result()) as api:
        run = create_run(api, "steps", {"steps": 6, "sleep": 0.5})
        wait_for_step_start(api, run["id"], 2, timeout=30)
        runner = next(n for n in workers if step_executions(effects / n, run["id"]))
        other = next(n for n in workers if n != runner)
        began = time.monotonic()
        code = terminate(workers[runner])(30)
        done = wait_until_ended(api, run["id"], timeout=30)
        took = time.monotonic() - began

    assert code == 0, workers[runner].log_tail()
    assert done["status"] == "succeeded", done
    # Long before anyone would declare the drained worker dead (60 s).
    assert took < 20, took
    ran_there = step_executions(effects / runner, run["id"])
    ran_here = step_executions(effects / other, run["id"])
    assert ran_there + ran_here == Counter({i: 1 for i in range(1, 7)}), (ran_there, ran_here)
    assert ran_here, "the other worker finished the run"


def test_a_draining_process_takes_no_new_run_and_says_so_on_readyz(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str], tmp_path: Path
) -> None:
    effects = tmp_path / "effects"
    url = new_database("drain_new")
    env = effects_env(effects, "all", RUNPLANE_DRAIN_SECONDS="30")
    with ThreadPoolExecutor() as pool:
        key = key_in_background(pool, url, "drain")
        server = start_server(database_url=url, env=env)
    with client(server, key.result()) as api:
        first = create_run(api, "steps", {"steps": 2, "sleep": 4})
        wait_for_step_start(api, first["id"], 1)
        exited = terminate(server)
        wait_for(lambda: api.get("/readyz").status_code == 503, 5, "readyz says draining")
        assert {"name": "status", "value": "draining"} in api.get("/readyz").json()["details"]
        # The only process: the run is recorded, and waits for a worker (itself, restarted).
        second = create_run(api, "echo", {"n": 1})
        time.sleep(1)
        assert api.get(f"/v1/runs/{second['id']}").json()["status"] == "queued"
        code = exited(30)
    assert code == 0, server.log_tail()
    # Step 1 of the first run finished here; step 2 never began.
    assert step_executions(effects / "all", first["id"]) == Counter({1: 1})

    restarted = start_server(database_url=url, env=env)
    with client(restarted, key.result()) as api:
        assert wait_until_ended(api, second["id"], 30)["status"] == "succeeded"
        assert wait_until_ended(api, first["id"], 30)["status"] == "succeeded"
    assert step_executions(effects / "all", first["id"]) == Counter({1: 1, 2: 1})
    assert httpx.get(f"{restarted.url}/readyz", timeout=10).status_code == 200


def test_each_of_several_processes_drains_on_sigterm_and_the_supervisor_exits_0(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str], tmp_path: Path
) -> None:
    effects = tmp_path / "effects"
    url = new_database("drain_many")
    with ThreadPoolExecutor() as pool:
        key = key_in_background(pool, url, "drain")
        served = effects_env(effects, "served", RUNPLANE_PROCESSES="2", RUNPLANE_DRAIN_SECONDS="3")
        del served["RUNPLANE_EXECUTOR_ID"]  # each of the two claims its own
        server = start_server(database_url=url, env=served)
        other = start_server(database_url=url, api=False, env=effects_env(effects, "other"))
    wait_for(lambda: len(executors(url)) >= 3, 90, "both processes and the worker up")
    with client(server, key.result()) as api:
        run = create_run(api, "steps", {"steps": 6, "sleep": 0.5})
        wait_for_step_start(api, run["id"], 2, timeout=30)
        assert step_executions(effects / "served", run["id"]), "the run went to the worker"
        code = terminate(server)(60)
    # The supervisor is gone with its port: the worker's own database row is the witness.
    engine = sa.create_engine(sync_url(url))
    deadline = time.monotonic() + 30
    with engine.connect() as conn:
        while True:
            status = conn.execute(
                sa.text("SELECT status FROM runs WHERE id = :id"), {"id": run["id"]}
            ).scalar_one()
            conn.rollback()
            if status == "succeeded" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    engine.dispose()

    assert code == 0, server.log_tail()
    assert status == "succeeded", status
    ran = step_executions(effects / "served", run["id"])
    ran_elsewhere = step_executions(effects / "other", run["id"])
    assert ran + ran_elsewhere == Counter({i: 1 for i in range(1, 7)}), (ran, ran_elsewhere)
    assert ran_elsewhere, "the worker finished the run the drained process handed on"
    assert other.process is not None and other.process.poll() is None
