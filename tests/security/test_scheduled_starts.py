"""Delayed runs (``after_seconds``) are scheduled starts: recorded, holding no slot, started
when due by any worker, even one that came up after a crash."""

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from runplane.admin import create_api_key
from runplane.settings import Settings
from runplane.testing.server import LiveServer

DELAYED = 1000
PROJECT = Path(__file__).resolve().parents[2] / "runplane.toml"
STARTUP = 120.0  # a loaded machine starts a server slowly


@contextmanager
def _server(url: str, cwd: Path, env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    server = LiveServer(url, cwd=cwd, project=PROJECT, env=env)
    try:
        yield server.start(timeout=STARTUP)
    finally:
        server.stop()


def _key(database_url: str, tenant: str) -> str:
    """An admin key of a new tenant, made in this process (a child would import slowly)."""
    return create_api_key(Settings(database_url=database_url), tenant=tenant)


def _client(server: LiveServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def _keys(server: LiveServer, *tenants: str) -> list[str]:
    with ThreadPoolExecutor(len(tenants)) as pool:
        return list(pool.map(lambda t: _key(server.database_url, t), tenants))


def _wait_ended(api: httpx.Client, run_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        run = api.get(f"/v1/runs/{run_id}", params={"wait": max(0.1, min(5, remaining))}).json()
        if run["status"] in ("succeeded", "failed", "canceled") or remaining <= 0:
            return run  # type: ignore[no-any-return]


def _seconds(later: str, earlier: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


@pytest.mark.timeout(240)
def test_a_thousand_delayed_runs_in_a_batch_do_not_block_another_tenants_run(
    new_database: Callable[[str], str], tmp_path: Path
) -> None:
    with _server(new_database("delays"), tmp_path, {"RUNPLANE_CONCURRENCY": "4"}) as server:
        _delayed_batch_then_an_immediate_run(server)


def _delayed_batch_then_an_immediate_run(server: LiveServer) -> None:
    key_a, key_b = _keys(server, "delays", "now")
    with _client(server, key_a) as a, _client(server, key_b) as b:
        batch = [
            {"assistant_id": "lg_echo", "input": {"message": str(i)}, "after_seconds": 600}
            for i in range(DELAYED)
        ]
        r = a.post("/runs/batch", json=batch)
        assert r.status_code == 200, r.text
        assert len(r.json()) == DELAYED
        usage = a.get("/v1/quotas").json()["usage"]
        assert usage == {"running": 0, "waiting": 0, "held": DELAYED, "queued": DELAYED}

        r = b.post("/v1/runs", json={"agent_id": "steps", "input": {"steps": 1}, "wait": 30})
        assert r.status_code == 201, r.text
        run = r.json()
        assert run["status"] == "succeeded", run
        assert _seconds(run["started_at"], run["created_at"]) < 2.0
        # A's delayed runs still wait, holding nothing.
        assert a.get("/v1/quotas").json()["usage"]["held"] == DELAYED


@pytest.mark.timeout(240)
def test_a_scheduled_run_starts_when_due_after_the_server_was_killed(
    new_database: Callable[[str], str], tmp_path: Path
) -> None:
    with _server(new_database("restart"), tmp_path) as server:
        _schedule_kill_restart(server)


def _schedule_kill_restart(server: LiveServer) -> None:
    (key,) = _keys(server, "restart")
    with _client(server, key) as api:
        r = api.post(
            "/runs",
            json={"assistant_id": "lg_echo", "input": {"message": "late"}, "after_seconds": 3},
        )
        assert r.status_code == 200, r.text
        run_id = r.json()["run_id"]
        server.kill()
        server.start(timeout=STARTUP)
        run = _wait_ended(api, run_id, timeout=30)
        assert run["status"] == "succeeded", (run, server.log_tail())
        assert _seconds(run["started_at"], run["created_at"]) >= 3.0
        assert run["result"]["content"] == {"message": "late"}
