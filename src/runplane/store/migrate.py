"""Apply Alembic migrations under a lock, so several processes may start at once."""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from runplane.domain.errors import Conflict
from runplane.store.dialect import is_sqlite, prepare_sqlite_file, sqlite_path, sync_url

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK_KEY = 0x72756E706C616E  # "runplan"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    """The newest migration this code knows."""
    rev = ScriptDirectory.from_config(_config()).get_current_head()
    assert rev is not None
    return rev


@contextmanager
def _migration_lock(url: str, conn: sa.Connection) -> Iterator[None]:
    if is_sqlite(url):
        lock_path = sqlite_path(url).with_suffix(".migrate.lock")
        with open(lock_path, "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
    else:
        conn.exec_driver_sql(f"SELECT pg_advisory_lock({_PG_LOCK_KEY})")
        try:
            yield
        finally:
            conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_PG_LOCK_KEY})")


def current(url: str) -> str | None:
    """The migration the database is at, or None for an empty database."""
    prepare_sqlite_file(url)
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def upgrade(url: str) -> str:
    """Bring the database to the newest migration; return its id."""
    prepare_sqlite_file(url)
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as lock_conn:
            lock_conn.commit()
            with _migration_lock(url, lock_conn):
                with engine.begin() as conn:
                    cfg = _config()
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                if is_sqlite(url):
                    with engine.connect() as conn:
                        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    finally:
        engine.dispose()
    return head()


def require_current(url: str) -> None:
    """Refuse to run against a database that is behind this code's migrations."""
    at = current(url)
    if at != head():
        raise Conflict(
            f"the database is at migration {at or 'none'}, this code needs {head()}: "
            "run `runplane db upgrade`",
            [{"name": "database_url", "value": None}],
        )
