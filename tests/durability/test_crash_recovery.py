"""Durability: runs survive a killed process, counted by their side effects.

The ``steps`` example agent appends "<run_id> <index>" to ``steps.log`` at the start of
each step (``RUNPLANE_EXAMPLES_SIDE_EFFECTS``), so the log says how often each step ran.
"""

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
from clean_chain import assert_chain_verifies

from runplane.testing.server import LiveServer, create_key

SIDE_EFFECTS = "RUNPLANE_EXAMPLES_SIDE_EFFECTS"


def key_in_background(pool: ThreadPoolExecutor, database_url: str, tenant: str) -> Future[str]:
    """Make an API key while a server boots (both migrate, under the migration lock)."""
    return pool.submit(create_key, database_url, tenant=tenant)


def client(server: LiveServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def create_run(api: httpx.Client, agent: str, input: object) -> dict[str, Any]:
    r = api.post("/v1/runs", json={"agent_id": agent, "input": input})
    assert r.status_code == 201, r.text
    return r.json()


def events_of(api: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    r = api.get(f"/v1/runs/{run_id}/events", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def wait_for_step_start(api: httpx.Client, run_id: str, number: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(
            e["type"] == "step.started" and e["data"]["number"] == number
            for e in events_of(api, run_id)
        ):
            return
        time.sleep(0.05)
    raise AssertionError(f"step {number} of {run_id} did not start in {timeout} s")


def wait_until_ended(api: httpx.Client, run_id: str, timeout: float) -> dict[str, Any]:
    """The run once it ends; the server's long poll is tried again until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        run = api.get(f"/v1/runs/{run_id}", params={"wait": max(0.1, min(5, remaining))}).json()
        if run["status"] in ("succeeded", "failed", "canceled") or remaining <= 0:
            return run


def step_executions(side_effects: Path, run_id: str) -> Counter[int]:
    """How many times each step of the run began, from the side-effect log."""
    log = side_effects / "steps.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return Counter(int(index) for rid, index in (line.split() for line in lines) if rid == run_id)


def assert_one_clean_log(api: httpx.Client, run_id: str, steps: int) -> None:
    """Seqs 1..N without gap or repeat, one start and one completion per step, chain ok."""
    events = events_of(api, run_id)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    for kind in ("step.started", "step.completed"):
        numbers = sorted(e["data"]["number"] for e in events if e["type"] == kind)
        assert numbers == list(range(1, steps + 1)), (kind, numbers)
    assert events[-1]["type"] == "status" and events[-1]["data"]["status"] == "succeeded"
    assert_chain_verifies(api, run_id, events)


def test_a_run_killed_in_step_3_completes_after_restart_without_repeating_steps_1_and_2(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str], tmp_path: Path
) -> None:
    side_effects = tmp_path / "effects"
    side_effects.mkdir()
    url = new_database("crash")
    with ThreadPoolExecutor() as pool:
        key = key_in_background(pool, url, "crash")
        server = start_server(database_url=url, env={SIDE_EFFECTS: str(side_effects)})
    with client(server, key.result()) as api:
        run = create_run(api, "steps", {"steps": 5, "sleep": 0.6})
        wait_for_step_start(api, run["id"], 3)

        server.kill()
        assert step_executions(side_effects, run["id"])[4] == 0, "killed too late to test anything"
        server.start()  # same cwd and port: the same executor id, so DBOS recovers the run

        done = wait_until_ended(api, run["id"], timeout=20)
        assert done["status"] == "succeeded", (done, server.log_tail())
        ran = step_executions(side_effects, run["id"])
        assert ran[1] == 1 and ran[2] == 1, ran
        assert ran[3] >= 1, ran
        assert ran[4] == 1 and ran[5] == 1, ran
        assert_one_clean_log(api, run["id"], steps=5)
        outputs = done["result"]["content"]["steps"]
        assert [o["index"] for o in outputs] == [1, 2, 3, 4, 5]
        assert done["steps_finished"] == 5 and done["step_count"] == 5


def test_a_run_accepted_while_no_worker_is_up_starts_when_one_comes_up(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str]
) -> None:
    url = new_database("queue")
    with ThreadPoolExecutor() as pool:
        key = key_in_background(pool, url, "queue")
        api_only = start_server(database_url=url, worker=False)
    with client(api_only, key.result()) as api:
        run = create_run(api, "echo", {})
        time.sleep(1)
        assert api.get(f"/v1/runs/{run['id']}").json()["status"] == "queued"

        start_server(database_url=url, api=False)
        done = wait_until_ended(api, run["id"], timeout=15)
        assert done["status"] == "succeeded", done
        assert done["result"]["content"] == {}


def kill_a_worker_in_step_2_and_start_another(
    start_server: Callable[..., LiveServer], url: str, effects: Path
) -> tuple[httpx.Client, str]:
    """An API-only server, worker A killed in step 2 of a run, worker B up; each
    process logs side effects to its own folder under ``effects``.

    The workers have distinct executor ids, so B cannot recover A's runs as its own:
    it must take them over once A's heartbeat is older than RUNPLANE_EXECUTOR_DEAD_AFTER.
    """

    def env(name: str, **extra: str) -> dict[str, str]:
        (effects / name).mkdir(parents=True)
        return {SIDE_EFFECTS: str(effects / name), **extra}

    with ThreadPoolExecutor() as pool:
        key = key_in_background(pool, url, "takeover")
        api_only = start_server(database_url=url, worker=False, env=env("api"))
        worker_a = start_server(
            database_url=url, api=False, env=env("worker-a", RUNPLANE_EXECUTOR_ID="worker-a")
        )
    api = client(api_only, key.result())
    run = create_run(api, "steps", {"steps": 4, "sleep": 0.5})
    wait_for_step_start(api, run["id"], 2)
    worker_a.kill()
    assert executions_in(effects, run["id"])[3] == 0, "killed too late to test anything"
    start_server(database_url=url, api=False, env=env("worker-b", RUNPLANE_EXECUTOR_ID="worker-b"))
    return api, run["id"]


def executions_in(effects: Path, run_id: str, *processes: str) -> Counter[int]:
    """Step executions of a run in the named processes (all of them by default)."""
    folders = [effects / p for p in processes] if processes else list(effects.iterdir())
    return sum((step_executions(f, run_id) for f in folders), Counter())


def test_a_dead_workers_runs_are_taken_over_by_another_worker(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str], tmp_path: Path
) -> None:
    effects = tmp_path / "effects"
    api, run_id = kill_a_worker_in_step_2_and_start_another(
        start_server, new_database("takeover"), effects
    )
    with closing(api):
        done = wait_until_ended(api, run_id, timeout=20)
        assert done["status"] == "succeeded", done
        ran = executions_in(effects, run_id)
        assert ran[1] == 1, ran
        assert ran[2] >= 1, ran
        assert ran[3] == 1 and ran[4] == 1, ran
        assert executions_in(effects, run_id, "worker-a") == Counter({1: 1, 2: 1})
        assert_one_clean_log(api, run_id, steps=4)


def test_an_api_only_process_never_executes_a_taken_over_run(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str], tmp_path: Path
) -> None:
    effects = tmp_path / "effects"
    api, run_id = kill_a_worker_in_step_2_and_start_another(
        start_server, new_database("apionly"), effects
    )
    with closing(api):
        done = wait_until_ended(api, run_id, timeout=20)
        assert done["status"] == "succeeded", done
        assert executions_in(effects, run_id, "api") == Counter()
        assert executions_in(effects, run_id, "worker-b")[4] == 1
