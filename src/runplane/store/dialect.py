"""Database URLs and connection setup: the only place SQLite and Postgres differ."""

import functools
import json
from collections.abc import Mapping, Sequence
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


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of an SQLite file if it is missing."""
    if is_sqlite(url):
        sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)


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

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


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
