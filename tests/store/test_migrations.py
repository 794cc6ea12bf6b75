"""Migrations on the suite's database: upgrade, idempotence, the lock, and the start check."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from runplane.domain.errors import Conflict
from runplane.store import migrate
from runplane.store.dialect import sync_url
from runplane.testing.server import LiveServer

TABLES = {"tenants", "api_keys", "agents", "revisions", "runs", "steps", "events"}


def inspect(url: str) -> tuple[set[str], list[str]]:
    """The database's tables, and the revisions recorded in ``alembic_version``."""
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            versions = (
                list(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
                if "alembic_version" in tables
                else []
            )
        return tables, versions
    finally:
        engine.dispose()


def test_upgrade_of_an_empty_database_reaches_head_and_is_idempotent(
    new_database: Callable[[str], str],
) -> None:
    url = new_database("mig")
    assert migrate.current(url) is None
    assert not inspect(url)[0] & TABLES

    assert migrate.upgrade(url) == migrate.head()
    assert migrate.current(url) == migrate.head()
    tables, versions = inspect(url)
    assert TABLES <= tables
    assert versions == [migrate.head()]

    assert migrate.upgrade(url) == migrate.head()
    assert migrate.current(url) == migrate.head()
    assert inspect(url) == (tables, versions)


def test_the_schema_has_its_keys(new_database: Callable[[str], str]) -> None:
    url = new_database("keys")
    migrate.upgrade(url)
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            assert insp.get_pk_constraint("events")["constrained_columns"] == ["run_id", "seq"]
            assert insp.get_pk_constraint("runs")["constrained_columns"] == ["id"]
            assert {"id", "tenant_id", "status", "last_seq", "last_hash"} <= {
                c["name"] for c in insp.get_columns("runs")
            }
    finally:
        engine.dispose()


def test_concurrent_upgrades_of_one_fresh_database_both_succeed(
    new_database: Callable[[str], str],
) -> None:
    url = new_database("race")
    start = threading.Barrier(2)

    def upgrade() -> str:
        start.wait(timeout=10)
        return migrate.upgrade(url)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [f.result(timeout=60) for f in [pool.submit(upgrade) for _ in range(2)]]
    assert results == [migrate.head(), migrate.head()]
    assert migrate.current(url) == migrate.head()
    tables, versions = inspect(url)
    assert TABLES <= tables
    assert versions == [migrate.head()]


def test_require_current_refuses_a_database_behind_the_code(
    new_database: Callable[[str], str],
) -> None:
    url = new_database("behind")
    with pytest.raises(Conflict) as refused:
        migrate.require_current(url)
    assert refused.value.status == 409
    assert "runplane db upgrade" in refused.value.message
    assert migrate.head() in refused.value.message
    migrate.upgrade(url)
    migrate.require_current(url)  # no error once at head


def test_a_server_told_not_to_migrate_refuses_an_unmigrated_database(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str]
) -> None:
    url = new_database("nomigrate")
    with pytest.raises(RuntimeError, match="exited early") as refused:
        start_server(database_url=url, env={"RUNPLANE_MIGRATE": "false"})
    assert "runplane db upgrade" in str(refused.value)
    assert migrate.current(url) is None  # it left the database alone

    migrate.upgrade(url)
    server = start_server(database_url=url, env={"RUNPLANE_MIGRATE": "false"})
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200


def test_the_head_read_from_file_names_is_alembics_own() -> None:
    # The server reads its head from the versions' file names so that it need not load
    # Alembic on a current database: the two must agree.
    assert migrate.head() == migrate.alembic_head()
