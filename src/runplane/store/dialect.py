"""Database URLs and connection setup: the only place SQLite and Postgres differ."""

import functools
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from sqlite3 import Connection as SQLiteConnection
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.dml import Insert

from runplane.domain.json import JSON


def is_sqlite(url: str) -> bool:
    """Tell whether a database URL names an SQLite file."""
    return make_url(url).get_backend_name() == "sqlite"


def async_url(url: str) -> str:
    """The URL with our async driver: aiosqlite or asyncpg."""
    u = make_url(url)
    driver = "aiosqlite" if u.get_backend_name() == "sqlite" else "asyncpg"
    return u.set(drivername=f"{u.get_backend_name()}+{driver}").render_as_string(
        hide_password=False
    )


def sync_url(url: str) -> str:
    """The URL with a sync driver (migrations, DBOS): sqlite3 or psycopg 3."""
    u = make_url(url)
    driver = "pysqlite" if u.get_backend_name() == "sqlite" else "psycopg"
    return u.set(drivername=f"{u.get_backend_name()}+{driver}").render_as_string(
        hide_password=False
    )


def plain_url(url: str) -> str:
    """The URL without a driver name, as DBOS wants it."""
    u = make_url(url)
    return u.set(drivername=u.get_backend_name()).render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path:
    """The file an SQLite URL names."""
    return Path(make_url(url).database or "runplane.db")


PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dir(path: Path) -> None:
    """Create a folder only its owner may enter (0700); one that exists is left as it is.

    An existing folder may be shared on purpose (``/var/lib``, a mounted volume): the
    files runplane puts in it are private on their own (``make_private_file``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE)
    except FileExistsError:
        return
    os.chmod(path, PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask


def make_private_file(path: Path) -> None:
    """Create ``path`` if it is missing; either way readable and writable by its owner only."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
    _tighten(path)


def _tighten(path: Path) -> None:
    try:
        os.chmod(path, PRIVATE_FILE_MODE)
    except (FileNotFoundError, PermissionError):
        pass  # not there yet, or another user's file, shared on purpose: not ours to change


# Behind a transaction-mode pooler (PgBouncer's pool_mode = transaction), consecutive
# transactions of one client connection may run on different server connections, so a
# statement prepared in one is missing (or another's) in the next. These turn
# prepared statements off, or make them live no longer than their transaction.
def asyncpg_pooler_args() -> dict[str, object]:
    """asyncpg ``connect_args`` under a transaction pooler (SQLAlchemy's recipe for PgBouncer).

    SQLAlchemy's asyncpg dialect prepares every statement: with its cache off and a
    unique name each, a statement lives in its own transaction only.
    """
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": lambda: f"__asyncpg_{uuid.uuid4().hex}__",
    }


def psycopg_pooler_args() -> dict[str, object]:
    """psycopg ``connect`` arguments under a transaction pooler: nothing is ever prepared."""
    return {"prepare_threshold": None}


def prepare_sqlite_file(url: str) -> None:
    """Create an SQLite database's folder (0700) and file (0600) before SQLite opens it.

    SQLite gives the ``-wal`` and ``-shm`` files it makes the database file's mode, so
    they are private too; ones left by an older version are tightened here.
    """
    if not is_sqlite(url) or make_url(url).database in (None, "", ":memory:"):
        return
    path = sqlite_path(url)
    make_private_dir(path.parent)
    make_private_file(path)
    for suffix in ("-wal", "-shm"):
        _tighten(path.with_name(path.name + suffix))


def configure_sqlite(engine: sa.Engine, *, immediate: bool) -> None:
    """WAL, a busy timeout, and (for writers) BEGIN IMMEDIATE transactions.

    Deferred transactions that read then write fail at once with SQLITE_BUSY when
    another process writes; IMMEDIATE takes the write lock up front and waits.
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: SQLiteConnection, _record: ConnectionPoolEntry) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Straight to the driver: through SQLAlchemy's execution this one statement cost
        # a tenth of a millisecond, on every transaction.
        conn.connection.driver_connection.execute(begin)  # type: ignore[union-attr]


class HasDialect(Protocol):
    """A connection, sync or async: what SQL it speaks."""

    @property
    def dialect(self) -> sa.Dialect:
        """The connection's dialect."""


def upsert(
    conn: HasDialect, table: sa.Table, rows: Sequence[Mapping[str, object]], keys: list[str]
) -> Insert:
    """INSERT … ON CONFLICT (keys) DO UPDATE, in the connection's dialect."""
    return _upsert(conn.dialect.name, table, tuple(rows[0]), tuple(keys))


@functools.lru_cache(maxsize=256)
def _upsert(
    dialect: str, table: sa.Table, columns: tuple[str, ...], keys: tuple[str, ...]
) -> Insert:
    # Building the statement (its `excluded` proxies) costs far more than running it.
    from sqlalchemy.dialects import postgresql, sqlite

    stmt = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(table)
    update_cols = {c: stmt.excluded[c] for c in columns if c not in keys}
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=update_cols)


def insert_if_absent(conn: HasDialect, table: sa.Table) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING, in the connection's dialect (rowcount 0: it was there)."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
    return insert(table).on_conflict_do_nothing()


def clock(conn: HasDialect, here: datetime, seconds_ago: float = 0.0) -> object:
    """A time ``seconds_ago`` before now, to write or compare with a timestamp column.

    On Postgres, the database's clock: processes on several hosts share one clock, so
    a host whose clock runs late does not look dead. SQLite serves one host: ``here``.
    """
    if conn.dialect.name == "postgresql":
        now = sa.func.now()
        return now - sa.func.make_interval(0, 0, 0, 0, 0, 0, seconds_ago) if seconds_ago else now
    return here - timedelta(seconds=seconds_ago)


def seconds_since(
    conn: HasDialect, now: datetime, then: sa.ColumnElement[datetime]
) -> sa.ColumnElement[float]:
    """Seconds from ``then``, a timestamp column, to ``now``: per row, in SQL."""
    at = sa.literal(now, then.type)
    if conn.dialect.name == "postgresql":
        return sa.type_coerce(sa.extract("epoch", at - then), sa.Float)
    return (sa.func.julianday(at) - sa.func.julianday(then)) * 86400.0


def database_up_for(conn: HasDialect, seconds: float) -> sa.ColumnElement[bool]:
    """True if the database server has been up ``seconds`` (always, on SQLite: a file).

    A Postgres restart makes every heartbeat look old at once; no process is declared
    dead until the server has been up for as long as it takes to be declared dead.
    """
    if conn.dialect.name == "postgresql":
        up_since = sa.func.pg_postmaster_start_time()
        return up_since < sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, seconds)
    return sa.true()


def json_key_equals(
    dialect: str, document: sa.ColumnElement[JSON], key: str, value: JSON
) -> sa.ColumnElement[bool]:
    """SQL for ``(document or {}).get(key) == value`` on a JSON column, in ``dialect``.

    Equality is JSON's, as Postgres' jsonb has it: objects compare without regard to
    key order and 1 equals 1.0, but true is not 1 and "1" is not 1.
    """
    if dialect == "postgresql":
        try:
            wanted = json.dumps(value, allow_nan=False)
        except ValueError:
            return sa.false()  # JSON holds no NaN or infinity: nothing stored equals one
        have = sa.cast(document, JSONB)[key]
        null = sa.cast(sa.literal("null"), JSONB)
        return sa.func.coalesce(have, null) == sa.cast(sa.literal(wanted), JSONB)
    if value is None:
        # A missing key reads as null, as dict.get has it.
        members = _sqlite_members(document)
        return ~sa.exists().where(members.c.key == key, members.c.type != "null")
    return _sqlite_has(document, key, value)


def _sqlite_members(document: sa.ColumnElement[JSON]) -> sa.TableValuedAlias:
    # json_each, not json_extract: its keys are decoded, so any key is reachable
    # (SQLite's path syntax cannot name a key with a double quote in it).
    return sa.func.json_each(document).table_valued("key", "value", "type", "atom").alias()


def _sqlite_has(
    document: sa.ColumnElement[JSON], key: str | int, value: JSON
) -> sa.ColumnElement[bool]:
    members = _sqlite_members(document)
    return sa.exists().where(members.c.key == key, _sqlite_equals(members, value))


def _sqlite_equals(member: sa.TableValuedAlias, value: JSON) -> sa.ColumnElement[bool]:
    """The JSON value in a row of ``json_each`` equals ``value``."""
    kind, atom, nested = member.c.type, member.c.atom, member.c.value
    if value is None:
        return kind == "null"
    if isinstance(value, bool):
        return kind == ("true" if value else "false")
    if isinstance(value, int | float):
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            value = float(value)  # beyond SQLite's integers; a stored real may still equal it
        return sa.and_(kind.in_(("integer", "real")), atom == value)
    if isinstance(value, str):
        return sa.and_(kind == "text", atom == value)
    if isinstance(value, list):
        return sa.and_(
            kind == "array",
            sa.func.json_array_length(nested) == len(value),
            *(_sqlite_has(nested, i, v) for i, v in enumerate(value)),
        )
    if isinstance(value, dict):
        keys = _sqlite_members(nested)
        count = sa.select(sa.func.count()).select_from(keys).scalar_subquery()
        return sa.and_(
            kind == "object",
            count == len(value),
            *(_sqlite_has(nested, k, v) for k, v in value.items()),
        )
    raise TypeError(f"not a JSON value: {value!r}")


def utc_day(conn: HasDialect, column: sa.ColumnElement[datetime]) -> sa.ColumnElement[str]:
    """A timestamp column's UTC day as ``YYYY-MM-DD`` text, in the connection's dialect."""
    if conn.dialect.name == "sqlite":
        # Stored as UTC text (``UTCDateTime``): the day is its first ten characters.
        return sa.func.substr(column, 1, 10)
    return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD")
