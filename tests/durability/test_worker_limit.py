"""A worker keeps its own concurrency, whatever another process registered later.

DBOS keeps a queue's per-worker limit in the queue's row, shared by every process: an
API-only server booting after the workers would otherwise set every worker's limit to
its own default, and one worker could take the whole queue.
"""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

from test_crash_recovery import client, create_run, key_in_background, wait_until_ended

from runplane.testing.server import LiveServer

RUNS = 6


def test_a_worker_runs_no_more_than_its_own_concurrency_after_an_api_server_registers(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str]
) -> None:
    url = new_database("limit")
    with ThreadPoolExecutor() as pool:
        key = key_in_background(pool, url, "limit")
        start_server(database_url=url, api=False, env={"RUNPLANE_CONCURRENCY": "2"})
    # Booted last, the API server registers the queue again with its own default (16).
    api_server = start_server(
        database_url=url,
        worker=False,
        env={"RUNPLANE_CONCURRENCY": "16", "RUNPLANE_TENANT_MAX_RUNNING": "1000"},
    )
    with closing(client(api_server, key.result())) as api:
        runs = [create_run(api, "steps", {"steps": 2, "sleep": 0.5})["id"] for _ in range(RUNS)]
        most = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listed = api.get("/v1/runs", params={"limit": 100}).json()["items"]
            statuses = [r["status"] for r in listed if r["id"] in runs]
            most = max(most, statuses.count("running"))
            if all(s in ("succeeded", "failed") for s in statuses):
                break
            time.sleep(0.05)
        for run_id in runs:
            assert wait_until_ended(api, run_id, timeout=30)["status"] == "succeeded"
    assert 1 <= most <= 2, most
