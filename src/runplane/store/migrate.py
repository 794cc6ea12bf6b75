"""Apply Alembic migrations under a lock, so several processes may start at once.

Alembic (with Mako) is imported only when a database is behind: a server starting on a
current database, the usual case, answers from ``alembic_version`` and the file names of
``migrations/versions`` and keeps some 10 MB of modules out of its memory.
"""

import fcntl
import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from runplane.domain.errors import Conflict
from runplane.store.dialect import is_sqlite, prepare_sqlite_file, sqlite_path, sync_url

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK_KEY = 0x72756E706C616E  # "runplan"
# Revisions are the numbers their files start with, one after another (a test checks
# that Alembic's own head agrees).
_REVISION = re.compile(r"^(\d{4})_\w+\.py$")

if TYPE_CHECKING:
    from alembic.config import Config


def _config() -> "Config":
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@functools.cache
def head() -> str:
    """The newest migration this code knows."""
    numbers = [m[1] for p in (MIGRATIONS / "versions").iterdir() if (m := _REVISION.match(p.name))]
    return max(numbers)


def alembic_head() -> str | None:
    """The newest migration as Alembic finds it from the scripts' own revision ids."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


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
            return at(conn)
    finally:
        engine.dispose()


def at(conn: sa.Connection) -> str | None:
    """The migration recorded in ``alembic_version``, or None if there is none yet."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def upgrade(url: str) -> str:
    """Bring the database to the newest migration; return its id."""
    if current(url) == head():
        return head()
    from alembic import command

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
