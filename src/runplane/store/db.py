"""The async database handle over either SQLite or Postgres.

Postgres goes through asyncpg. SQLite calls take microseconds, while aiosqlite's
thread hand-off costs about 1 ms per statement here (4 ms for a three-statement
transaction against 0.1 ms done directly), so SQLite runs on the event loop's
thread behind the same async interface; an asyncio lock serialises writers, which
SQLite would do anyway. On both, the hot statements marked ``direct()`` skip
SQLAlchemy's per-statement machinery and go to the driver.
"""

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import ClassVar, TypeAlias, TypeVar, TypeVarTuple, cast, overload

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.sql.selectable import TypedReturnsRows
from sqlalchemy.util import greenlet_spawn

from runplane.store.dialect import (
    async_url,
    asyncpg_pooler_args,
    configure_sqlite,
    is_sqlite,
    prepare_sqlite_file,
    sync_url,
)

# A statement's bound values: one row of them, or many (executemany).
Parameters: TypeAlias = Mapping[str, object] | Sequence[Mapping[str, object]]
_Columns = TypeVarTuple("_Columns")


class _Rows:
    """What a statement run through ``_Direct`` answers: its rows, or the rows it changed."""

    def __init__(
        self, rows: list[tuple[object, ...]], rowcount: int, keys: tuple[str, ...] = ()
    ) -> None:
        self._rows = rows
        self._keys = keys
        self.rowcount = rowcount

    def mappings(self) -> "_Rows":
        """The rows as dicts by column name."""
        rows = [dict(zip(self._keys, r, strict=True)) for r in self._rows]
        return _Rows(rows, self.rowcount)  # type: ignore[arg-type]

    def all(self) -> list[tuple[object, ...]]:
        """Every row."""
        return self._rows

    def first(self) -> tuple[object, ...] | None:
        """The first row, or None."""
        return self._rows[0] if self._rows else None

    def scalar_one(self) -> object:
        """The one row's first column; NoResultFound or MultipleResultsFound otherwise."""
        if len(self._rows) != 1:
            kind = sa.exc.NoResultFound if not self._rows else sa.exc.MultipleResultsFound
            raise kind(f"{len(self._rows)} rows where one was required")
        return self._rows[0][0]


_S = TypeVar("_S", bound=sa.Executable)


def direct(statement: _S) -> _S:
    """Mark a hot statement (a module constant) to run on the driver directly.

    SQLAlchemy's execution costs about 80 µs a statement here against 15 µs for
    SQLite's driver (on Postgres, its asyncpg adapter adds greenlet switches on top),
    and a run makes several. A marked statement is compiled once per dialect and set of
    parameter names, its values go through the bind processors (JSON, dates) and its
    rows through the result processors SQLAlchemy applies. A statement for which
    SQLAlchemy would compute a column default, or one with an expanding IN, runs the
    usual way. Its result answers ``all``, ``first``, ``scalar_one``, ``mappings`` and
    ``rowcount`` (rows as tuples, or dicts from ``mappings``).
    """
    _Direct.marked[id(statement)] = statement
    return statement


_Processor: TypeAlias = Callable[[object], object] | None


class _Direct:
    """A marked statement compiled for one set of parameter names, run on the driver."""

    # The marked statements by id (held here, so that an id is never reused).
    marked: ClassVar[dict[int, sa.Executable]] = {}
    # Their compiled forms, by (dialect, statement id, parameter names); None: the usual way.
    compiled: ClassVar[dict[tuple[str, int, tuple[str, ...]], "_Direct | None"]] = {}

    __slots__ = ("binds", "consts", "dialect", "keys", "names", "results", "sql", "types")

    def __init__(
        self,
        sql: str,
        names: tuple[str, ...],
        binds: list[_Processor],
        consts: dict[str, object],
        columns: list[tuple[str, sa.types.TypeEngine[object]]],
        dialect: sa.Dialect,
    ) -> None:
        self.sql = sql
        self.names = names
        self.binds = binds
        self.consts = consts
        self.keys = tuple(name for name, _ in columns)
        self.types = [type_ for _, type_ in columns]
        self.dialect = dialect
        # The rows' processors, chosen (as SQLAlchemy does) by the driver's column types.
        self.results: list[_Processor] | None = None

    @classmethod
    def of(
        cls, statement: sa.Executable, parameters: Parameters, dialect: sa.Dialect
    ) -> "_Direct | None":
        """The statement ready for these parameters, or None to run it the usual way."""
        if id(statement) not in cls.marked or not parameters:
            return None
        first = parameters if isinstance(parameters, Mapping) else parameters[0]
        key = (dialect.name, id(statement), tuple(first))
        if key not in cls.compiled:
            cls.compiled[key] = cls._compile(statement, key[2], dialect)
        return cls.compiled[key]

    @classmethod
    def _compile(
        cls, statement: sa.Executable, keys: tuple[str, ...], dialect: sa.Dialect
    ) -> "_Direct | None":
        compiled = cast(
            sa.sql.compiler.SQLCompiler,
            statement.compile(dialect=dialect, column_keys=list(keys)),  # type: ignore[attr-defined]
        )
        names = tuple(compiled.positiontup or ())
        if compiled.literal_execute_params or compiled.post_compile_params:
            return None  # an expanding IN: rendered for each call's values
        if compiled.insert_prefetch or compiled.update_prefetch:
            return None  # a column default that SQLAlchemy computes for each row
        # A parameter the caller does not give is a value set in the statement.
        fixed = {n: compiled.binds[n] for n in names if n not in keys}
        if any(b.required or b.callable is not None for b in fixed.values()):
            return None
        # The processors SQLAlchemy would apply (a type's processor is one callable here).
        procs = cast(Mapping[str, _Processor], compiled._bind_processors)
        consts = {n: b.effective_value for n, b in fixed.items()}
        columns = [(c.keyname, c.type) for c in compiled._result_columns]
        binds = [procs.get(n) for n in names]
        return cls(compiled.string, names, binds, consts, columns, dialect)

    def _values(self, parameters: Parameters) -> list[list[object]]:
        """Each row of values in the statement's order, through the bind processors."""
        rows = [parameters] if isinstance(parameters, Mapping) else parameters
        if self.consts:
            rows = [{**self.consts, **r} for r in rows]
        return [
            [
                v if p is None else p(v)
                for p, v in zip(self.binds, (r[n] for n in self.names), strict=True)
            ]
            for r in rows
        ]

    def _rows(
        self, found: Sequence[Sequence[object]], description: Sequence[Sequence[object]] | None
    ) -> list[tuple[object, ...]]:
        if not found:
            return []
        if self.results is None:
            codes = [d[1] for d in description or ()] or [None] * len(self.types)
            self.results = [
                t._cached_result_processor(self.dialect, code)
                for t, code in zip(self.types, codes, strict=True)
            ]
        if not any(self.results):
            return [tuple(r) for r in found]
        return [
            tuple(v if p is None else p(v) for p, v in zip(self.results, r, strict=True))
            for r in found
        ]

    def run(self, raw: sqlite3.Connection, parameters: Parameters) -> _Rows:
        """Execute it on SQLite for one row of values or many; an error as SQLAlchemy's."""
        values = self._values(parameters)
        try:
            if len(values) > 1:
                return _Rows([], raw.executemany(self.sql, values).rowcount)
            cursor = raw.execute(self.sql, values[0])
            found = cursor.fetchall() if self.keys else []
        except sqlite3.Error as exc:
            raise sa.exc.DBAPIError.instance(self.sql, values, exc, sqlite3.Error) from exc
        return _Rows(self._rows(found, cursor.description), cursor.rowcount, self.keys)

    async def run_async(self, conn: sa.Connection, parameters: Parameters) -> _Rows:
        """Execute it on Postgres through the asyncpg adapter's own cursor.

        The adapter starts the transaction, prepares (and caches) the statement and
        translates asyncpg's errors; a failure then goes through the connection's own
        handler, which invalidates a connection that was cut, as any statement would.
        """
        values = self._values(parameters)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if len(values) > 1:
                await cursor._executemany(self.sql, values)
            else:
                await cursor._prepare_and_execute(self.sql, values[0])
        except BaseException as exc:
            await greenlet_spawn(conn._handle_dbapi_exception, exc, self.sql, values, cursor, None)
            raise
        found = list(cursor._rows) if self.keys and len(values) == 1 else []
        return _Rows(self._rows(found, cursor.description), cursor.rowcount, self.keys)


class LoopConnection:
    """An async face on a sync SQLite connection, used on the loop thread."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self.dialect = conn.dialect

    @overload
    async def execute(
        self, statement: TypedReturnsRows[*_Columns], parameters: Parameters | None = None
    ) -> sa.CursorResult[*_Columns]: ...

    @overload
    async def execute(
        self, statement: sa.Executable, parameters: Parameters | None = None
    ) -> sa.CursorResult[*tuple[object, ...]]: ...

    async def execute(
        self, statement: sa.Executable, parameters: Parameters | None = None
    ) -> sa.CursorResult[*tuple[object, ...]]:
        """Run a statement; the same call shape as ``AsyncConnection.execute``."""
        if parameters is None:
            return self._conn.execute(statement)
        direct = _Direct.of(statement, parameters, self.dialect)
        if direct is not None:
            raw = self._conn.connection.driver_connection
            result = direct.run(raw, parameters)  # type: ignore[arg-type]
            return cast(sa.CursorResult[*tuple[object, ...]], result)
        return self._conn.execute(statement, parameters)


class PgConnection:
    """An ``AsyncConnection`` on Postgres whose marked statements skip SQLAlchemy."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self.dialect = conn.dialect

    @overload
    async def execute(
        self, statement: TypedReturnsRows[*_Columns], parameters: Parameters | None = None
    ) -> sa.CursorResult[*_Columns]: ...

    @overload
    async def execute(
        self, statement: sa.Executable, parameters: Parameters | None = None
    ) -> sa.CursorResult[*tuple[object, ...]]: ...

    async def execute(
        self, statement: sa.Executable, parameters: Parameters | None = None
    ) -> sa.CursorResult[*tuple[object, ...]]:
        """Run a statement; the same call shape as ``AsyncConnection.execute``."""
        if parameters is not None:
            direct = _Direct.of(statement, parameters, self.dialect)
            sync = self._conn.sync_connection
            # An invalidated connection reconnects the usual way (that needs SQLAlchemy).
            if direct is not None and sync is not None and not sync.invalidated:
                result = await direct.run_async(sync, parameters)
                return cast(sa.CursorResult[*tuple[object, ...]], result)
        return await self._conn.execute(statement, parameters)


Conn = PgConnection | LoopConnection


def _json_dumps(value: object) -> str:
    # JSON columns are written several times per run: orjson is ~10x the stdlib here.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


_JSON = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


@dataclass
class PoolStats:
    """One connection pool now; ``waits``: checkouts that found it full, and their time."""

    size: int
    checked_out: int
    waits: int
    wait_seconds: float


class Database:
    """Connections to runplane's tables: ``write()`` for a transaction, ``read()``."""

    def __init__(
        self,
        url: str,
        pool_size: int = 10,
        *,
        wait_seconds: float = 30.0,
        application_name: str = "runplane",
        pooler: bool = False,
        idle_transaction_seconds: float | None = None,
    ) -> None:
        self.url = url
        self.is_sqlite = is_sqlite(url)
        # Checkouts that found the pool full (SQLite: the writer's lock taken), and the
        # seconds they waited: counted only then, so the common path pays one comparison.
        self._waits = 0
        self._waited = 0.0
        if self.is_sqlite:
            prepare_sqlite_file(url)
            self._sync_writer = sa.create_engine(
                sync_url(url), pool_size=1, max_overflow=0, **_JSON
            )
            self._sync_reader = sa.create_engine(
                sync_url(url), pool_size=4, max_overflow=-1, **_JSON
            )
            configure_sqlite(self._sync_writer, immediate=True)
            configure_sqlite(self._sync_reader, immediate=False)
            self._write_lock = asyncio.Lock()
        else:
            # A hard cap (the process's share of its connection budget, store/budget.py):
            # past it a caller waits up to ``wait_seconds``, then gets sqlalchemy's
            # TimeoutError, which the API answers with 503 and Retry-After.
            server_settings = {"application_name": application_name}
            if idle_transaction_seconds is not None and not pooler:
                # A process cut off (or stopped) inside a transaction would hold its row
                # locks, and with them a takeover of its runs, until Postgres ends it.
                # (A pooler refuses such start-up parameters; set it on the server there.)
                ms = int(idle_transaction_seconds * 1000)
                server_settings["idle_in_transaction_session_timeout"] = str(ms)
            connect_args: dict[str, object] = {"server_settings": server_settings}
            if pooler:
                connect_args.update(asyncpg_pooler_args())
            self._async = create_async_engine(
                async_url(url),
                pool_size=pool_size,
                max_overflow=0,
                pool_timeout=wait_seconds,
                connect_args=connect_args,
                **_JSON,
            )
            # Reads need no transaction: autocommit saves the BEGIN/ROLLBACK round trips.
            # Behind a transaction pooler a read's prepare and execute could land on two
            # server connections unless a transaction holds them together.
            self._async_reader = (
                self._async
                if pooler
                else self._async.execution_options(isolation_level="AUTOCOMMIT")
            )

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Conn]:
        """A connection inside a transaction that commits on exit."""
        if self.is_sqlite:
            since = time.monotonic() if self._write_lock.locked() else None
            async with self._write_lock:
                if since is not None:
                    self._count_wait(since)
                with self._sync_writer.begin() as conn:
                    yield LoopConnection(conn)
        else:
            since = time.monotonic() if self._pool_full() else None
            async with self._async.begin() as aconn:
                if since is not None:
                    self._count_wait(since)
                yield PgConnection(aconn)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Conn]:
        """A connection for reading."""
        if self.is_sqlite:
            with self._sync_reader.connect() as conn:
                yield LoopConnection(conn)
        else:
            since = time.monotonic() if self._pool_full() else None
            async with self._async_reader.connect() as aconn:
                if since is not None:
                    self._count_wait(since)
                yield PgConnection(aconn)

    def _pool_full(self) -> bool:
        pool = self._async.pool
        return bool(pool.checkedout() >= pool.size())  # type: ignore[attr-defined]

    def _count_wait(self, since: float) -> None:
        self._waits += 1
        self._waited += time.monotonic() - since

    def pool_stats(self) -> PoolStats:
        """The pool's size and use now, and the waits so far (SQLite: the writer's lock)."""
        if self.is_sqlite:
            used = 1 if self._write_lock.locked() else 0
            return PoolStats(1, used, self._waits, self._waited)
        pool = self._async.pool
        size, used = pool.size(), pool.checkedout()  # type: ignore[attr-defined]
        return PoolStats(size, used, self._waits, self._waited)

    async def close(self) -> None:
        """Close every pooled connection."""
        if self.is_sqlite:
            self._sync_writer.dispose()
            self._sync_reader.dispose()
        else:
            await self._async.dispose()
