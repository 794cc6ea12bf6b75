"""The async database handle over either SQLite or Postgres.

Postgres goes through asyncpg. SQLite calls take microseconds, while aiosqlite's
thread hand-off costs about 1 ms per statement here (4 ms for a three-statement
transaction against 0.1 ms done directly), so SQLite runs on the event loop's
thread behind the same async interface; an asyncio lock serialises writers, which
SQLite would do anyway.
"""

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TypeAlias, TypeVarTuple, overload

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.sql.selectable import TypedReturnsRows

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
        return self._conn.execute(statement, parameters)


Conn = AsyncConnection | LoopConnection


def _json_dumps(value: object) -> str:
    # JSON columns are written several times per run: orjson is ~10x the stdlib here.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


_JSON = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


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
            async with self._write_lock:
                with self._sync_writer.begin() as conn:
                    yield LoopConnection(conn)
        else:
            async with self._async.begin() as aconn:
                yield aconn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Conn]:
        """A connection for reading."""
        if self.is_sqlite:
            with self._sync_reader.connect() as conn:
                yield LoopConnection(conn)
        else:
            async with self._async_reader.connect() as aconn:
                yield aconn

    async def close(self) -> None:
        """Close every pooled connection."""
        if self.is_sqlite:
            self._sync_writer.dispose()
            self._sync_reader.dispose()
        else:
            await self._async.dispose()
