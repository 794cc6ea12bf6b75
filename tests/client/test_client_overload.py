"""The client against a live server on Postgres whose connection pool runs dry for real.

Another session locks the runs table: every query of the server on it waits, holding
its pooled connection, until the pool has none left and the server answers 503 (as in
``tests/scaling/test_connection_budget.py``). Creates carry an Idempotency-Key, so the
client sends them again; the server made each run exactly once.
"""

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psycopg
import pytest

from runplane.client import Client, RetryNote, ServerError
from runplane.schemas import RunPublic
from runplane.testing.server import LiveServer, create_key

pytestmark = pytest.mark.timeout(120)

# Two connections for runplane's own tables (store/budget.py shares 8 out), and a short
# wait for one: a few concurrent calls are enough to be turned away.
OVERLOAD_ENV = {"RUNPLANE_DB_CONNECTIONS": "8", "RUNPLANE_DB_WAIT_SECONDS": "0.5"}
CALLS = 8


@pytest.fixture
def postgres_only(db_kind: str) -> None:
    if db_kind != "postgres":
        pytest.skip("the pool runs dry only on Postgres (SQLite has no connection pool)")


@pytest.fixture
def overloadable(
    postgres_only: None,
    start_server: Callable[..., LiveServer],
    new_database: Callable[[str], str],
) -> tuple[LiveServer, str]:
    url = new_database("client_overload")
    key = create_key(url, tenant="overload")
    return start_server(database_url=url, env=OVERLOAD_ENV), key


@contextmanager
def runs_table_locked(database_url: str, seconds: float) -> Iterator[None]:
    """Hold an exclusive lock on ``runs`` for ``seconds`` from now, in another session."""
    locked = threading.Event()

    def hold() -> None:
        with psycopg.connect(database_url) as blocker:
            blocker.execute("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")
            locked.set()
            time.sleep(seconds)
            blocker.rollback()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(30)
    try:
        yield
    finally:
        holder.join()


def test_creates_turned_away_with_503_are_retried_and_each_run_is_made_once(
    overloadable: tuple[LiveServer, str],
) -> None:
    server, key = overloadable
    notes: list[RetryNote] = []
    with Client(server.url, key, timeout=30, on_retry=notes.append) as client:
        client.runs.list()  # the key is cached before the lock
        with runs_table_locked(server.database_url, 3), ThreadPoolExecutor(CALLS) as pool:

            def create(i: int) -> RunPublic:
                return client.runs.create("steps", {"steps": 1, "i": i})

            created = list(pool.map(create, range(CALLS)))
        # Some calls were turned away while the lock held the pool, then went again.
        assert any(n.reason == "503" and n.method == "POST" for n in notes), notes
        ended = [client.runs.wait(run.id, timeout=60) for run in created]
        listed = list(client.runs.iter())
    assert all(run.status == "succeeded" for run in ended), [r.status for r in ended]
    assert sorted(r.id for r in listed) == sorted(r.id for r in created)
    assert sorted(r.input["i"] for r in listed) == list(range(CALLS))


def test_a_post_without_an_idempotency_key_answered_503_is_not_sent_again(
    overloadable: tuple[LiveServer, str],
) -> None:
    server, key = overloadable
    notes: list[RetryNote] = []
    with Client(server.url, key, timeout=30, on_retry=notes.append) as client:
        run = client.runs.create("steps", {"steps": 1})
        client.runs.wait(run.id, timeout=60)
        with runs_table_locked(server.database_url, 3), ThreadPoolExecutor(CALLS) as pool:
            # Archiving is a POST the server keeps no key for: it is never sent twice.
            futures = [pool.submit(client.runs.archive, run.id) for _ in range(CALLS)]
            errors = [f.exception() for f in futures]
    refused = [e for e in errors if e is not None]
    assert refused, "the lock should have run the pool dry"
    assert all(isinstance(e, ServerError) and e.status_code == 503 for e in refused), refused
    assert not [n for n in notes if n.method == "POST"], notes
