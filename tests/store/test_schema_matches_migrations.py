"""The migrations build exactly the tables ``schema.py`` declares, on the suite's database."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from runplane.store import migrate
from runplane.store.dialect import sync_url
from runplane.store.schema import metadata


def ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Compare our tables (and their columns, indexes, constraints) only.

    DBOS and langgraph's savers keep tables of their own in the same database.
    """
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is None or table.name in metadata.tables


def differences(url: str, target: sa.MetaData = metadata) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match ``target``."""
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "include_object": ours,
                    "compare_type": True,
                    "compare_server_default": True,
                },
            )
            return list(compare_metadata(context, target))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def migrated(new_database: Callable[[str], str]) -> Iterator[str]:
    """A new database brought to head by the migrations, with a table that is not ours."""
    url = new_database("schema")
    migrate.upgrade(url)
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE someone_elses (id INTEGER PRIMARY KEY)")
    finally:
        engine.dispose()
    yield url


def test_an_empty_database_migrated_to_head_matches_schema_py_beside_foreign_tables(
    migrated: str,
) -> None:
    assert differences(migrated) == []


def test_the_comparison_sees_every_table_of_schema_py(
    new_database: Callable[[str], str],
) -> None:
    added = {diff[1].name for diff in differences(new_database("empty")) if diff[0] == "add_table"}
    assert added == set(metadata.tables)


def test_the_comparison_sees_a_column_the_migrations_lack(migrated: str) -> None:
    wider = sa.MetaData()
    for table in metadata.tables.values():
        table.to_metadata(wider)
    wider.tables["threads"].append_column(sa.Column("colour", sa.String(20)))
    diffs = differences(migrated, wider)
    assert [(d[0], d[2], d[3].name) for d in diffs] == [("add_column", "threads", "colour")]
