"""The connection budget: one setting bounds every pool; overload is a 503 that changed nothing."""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from runplane.store.budget import MIN_CONNECTIONS, share_out
from runplane.testing.server import LiveServer, create_key


@pytest.mark.parametrize("total", [MIN_CONNECTIONS, 9, 20, 24, 64, 200])
@pytest.mark.database_independent
def test_a_budget_is_shared_out_whole_and_every_pool_gets_room(total: int) -> None:
    budget = share_out(total)
    assert budget.runplane + budget.dbos + budget.savers + budget.listeners == total
    assert budget.runplane >= 2 and budget.dbos >= 2 and budget.savers >= 2


@pytest.mark.database_independent
def test_a_budget_below_the_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 8"):
        share_out(MIN_CONNECTIONS - 1)


def _connections_named(pg_url: str, executor_app: str) -> int:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        row = conn.execute(
            # Executor ids are per host: a server on another database may share this one's.
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            (executor_app,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _executor_of(server: LiveServer, key: str) -> str:
    health = httpx.get(f"{server.url}/healthz", headers={"Authorization": f"Bearer {key}"})
    assert health.status_code == 200, health.text
    return str(health.json()["executor_id"])


@pytest.fixture
def postgres_only(db_kind: str) -> None:
    if db_kind != "postgres":
        pytest.skip("connection budgets are a Postgres matter (SQLite has no server)")


@pytest.mark.usefixtures("postgres_only")
def test_a_loaded_process_holds_no_more_connections_than_its_budget(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str]
) -> None:
    url = new_database("budget")
    key = create_key(url, tenant="budget")
    server = start_server(database_url=url, env={"RUNPLANE_DB_CONNECTIONS": "10"})
    app_name = f"runplane {_executor_of(server, key)}"
    headers = {"Authorization": f"Bearer {key}"}
    peak = 0
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as api:

        def create(i: int) -> str:
            r = api.post("/v1/runs", json={"agent_id": "steps", "input": {"n": 3, "i": i}})
            assert r.status_code == 201, r.text
            return str(r.json()["id"])

        with ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(create, i) for i in range(48)]
            while not all(f.done() for f in futures):
                peak = max(peak, _connections_named(url, app_name))
                time.sleep(0.02)
            ids = [f.result() for f in futures]
        for run_id in ids:
            run = api.get(f"/v1/runs/{run_id}", params={"wait": 30}).json()
            peak = max(peak, _connections_named(url, app_name))
            assert run["status"] == "succeeded", run
    # Every pool of the process is capped: its own, DBOS's, the savers' and its LISTEN.
    assert 0 < peak <= 10, peak


@pytest.mark.usefixtures("postgres_only")
def test_no_free_connection_in_time_is_a_503_with_retry_after_that_changed_nothing(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str]
) -> None:
    url = new_database("overload")
    key = create_key(url, tenant="overload")
    env = {"RUNPLANE_DB_CONNECTIONS": "8", "RUNPLANE_DB_WAIT_SECONDS": "0.5"}
    server = start_server(database_url=url, env=env)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as api:
        assert api.get("/v1/runs").status_code == 200  # the key is cached before the lock
        # Another session locks the runs table: every query of the server on it waits,
        # holding its pooled connection, until the pool has none left to give.
        with psycopg.connect(url) as blocker:
            blocker.execute("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")

            def create(i: int) -> httpx.Response:
                return api.post("/v1/runs", json={"agent_id": "steps", "input": {"i": i}})

            with ThreadPoolExecutor(8) as pool:
                futures = [pool.submit(create, i) for i in range(8)]
                time.sleep(3)
                blocker.rollback()  # the lock goes; the waiting queries go on
                answers = [f.result() for f in futures]
        overloaded = [r for r in answers if r.status_code == 503]
        created = [r for r in answers if r.status_code == 201]
        assert overloaded, [r.status_code for r in answers]
        assert len(overloaded) + len(created) == len(answers), [r.text for r in answers]
        for r in overloaded:
            assert int(r.headers["Retry-After"]) >= 1
            assert r.json()["status_code"] == 503 and "nothing was changed" in r.json()["message"]
        listed = api.get("/v1/runs", params={"limit": 100}).json()["items"]
        # A 503 recorded nothing: the runs are exactly those answered 201.
        assert sorted(r["id"] for r in listed) == sorted(r.json()["id"] for r in created)


@pytest.mark.usefixtures("postgres_only")
def test_a_start_that_would_push_the_fleet_past_max_connections_warns_with_the_numbers(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str]
) -> None:
    url = new_database("fleet")
    env = {"RUNPLANE_DB_CONNECTIONS": "60", "RUNPLANE_LOG_LEVEL": "info"}
    first = start_server(database_url=url, env=env)
    second = start_server(database_url=url, env=env)
    assert "60 database connections: runplane" in first.log_tail()
    assert "the fleet may open more database connections" not in first.log_tail()
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
        ).fetchone()
    assert row is not None
    assert f"this process 60 + other live processes 60 = 120 > {row[0]}" in second.log_tail()
