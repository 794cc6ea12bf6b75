"""Two server processes on one database, one schedule that ticks every second: each tick
starts exactly one run, whichever process's scheduler reaches it first."""

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from typing import Any

import httpx
import psycopg
import pytest

from runplane.store.dialect import is_sqlite, plain_url, sqlite_path
from runplane.testing.server import LiveServer, create_key

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    if is_sqlite(url):
        with closing(sqlite3.connect(sqlite_path(url), timeout=10)) as conn:
            return conn.execute(sql).fetchall()
    with psycopg.connect(plain_url(url)) as conn:
        return conn.execute(sql).fetchall()


def test_two_processes_racing_for_every_tick_start_one_run_per_tick(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str]
) -> None:
    url = new_database("tick_race")
    key = create_key(url, tenant="ticks")
    servers = [start_server(database_url=url) for _ in range(2)]
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=servers[0].url, headers=headers, timeout=30) as api:
        body = {"kind": "schedule", "agent_id": "echo", "schedule": "* * * * * *", "input": {}}
        made = api.post("/v1/triggers", json=body)
        assert made.status_code == 201, made.text
        trigger_id = made.json()["id"]
        time.sleep(6)
        assert api.post(f"/v1/triggers/{trigger_id}/disable").status_code == 200
        time.sleep(1)  # a tick being started as it was disabled lands
        runs = api.get("/v1/runs", params={"trigger_id": trigger_id, "limit": 100}).json()
    run_ids = {r["id"] for r in runs["items"]}
    keys = query(
        url, f"SELECT key, run_id FROM idempotency_keys WHERE key LIKE 'trigger:{trigger_id}:%'"
    )
    ticks = {k for k, _ in keys}
    # One run per tick, one tick per run, and the schedule kept ticking on both processes.
    assert {r for _, r in keys} == run_ids
    assert len(ticks) == len(run_ids) == len(keys) >= 4, (ticks, run_ids)
