"""langgraph's checkpoint savers and store, opened on runplane's own database.

Each database's savers are imported when it is opened: a SQLite process never loads
psycopg, and sqlite-vec (with numpy) only once the store is used.
"""

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, cast

import aiosqlite
from langgraph.store.base import BaseStore, Op, Result

from runplane.store.dialect import is_sqlite, plain_url, psycopg_pooler_args, sqlite_path


async def _sqlite(path: str, exit: contextlib.AsyncExitStack) -> aiosqlite.Connection:
    conn = await exit.enter_async_context(aiosqlite.connect(path, timeout=30, isolation_level=None))
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=NORMAL")
    await conn.execute("PRAGMA busy_timeout=30000")
    return conn


# Several processes may start at once: their savers' own migrations take turns.
_PG_LOCK_KEY = 0x72756E706C616F


@contextlib.asynccontextmanager
async def _setup_lock(url: str, pool: Any) -> AsyncIterator[None]:
    if is_sqlite(url):
        path = Path(str(sqlite_path(url)) + ".graphs.lock")
        with open(path, "w") as handle:
            await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    async with pool.connection() as conn:
        # Polled, not waited for: a statement blocked on the lock would hold a snapshot,
        # which the holder's CREATE INDEX CONCURRENTLY waits for (a deadlock).
        while not (
            await (
                await conn.execute("SELECT pg_try_advisory_lock(%s)", (_PG_LOCK_KEY,))
            ).fetchone()
        )["pg_try_advisory_lock"]:
            await asyncio.sleep(0.1)
        try:
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_PG_LOCK_KEY,))


def _postgres_pool(url: str, size: int, application_name: str, pooler: bool) -> Any:
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    kwargs: dict[str, Any] = {
        "autocommit": True,
        "prepare_threshold": 0,
        "row_factory": dict_row,
        "application_name": application_name,
    }
    if pooler:
        kwargs.update(psycopg_pooler_args())
    return AsyncConnectionPool(plain_url(url), min_size=1, max_size=size, kwargs=kwargs, open=False)


async def open_savers(
    url: str,
    exit: contextlib.AsyncExitStack,
    *,
    connections: int = 2,
    application_name: str = "runplane",
    session_url: str | None = None,
) -> tuple[Any, Any]:
    """The checkpointer and the store, set up (their tables created) and ready.

    On Postgres they share one pool of ``connections`` (the process's budget for them).
    With ``session_url`` (``url`` is then a transaction pooler) the setup, which holds an
    advisory lock across statements, runs on a session of its own there.
    """
    if is_sqlite(url):
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        path = str(sqlite_path(url))
        saver: Any = AsyncSqliteSaver(await _sqlite(path, exit))
        async with _setup_lock(url, None):
            await saver.setup()
        return saver, _LazySqliteStore(url, exit)
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from langgraph.store.postgres.aio import AsyncPostgresStore

    # Two: setting up holds one connection (the lock) while it uses another.
    pool = _postgres_pool(url, max(2, connections), application_name, session_url is not None)
    await pool.open()
    exit.push_async_callback(pool.close)
    saver, store = AsyncPostgresSaver(pool), AsyncPostgresStore(pool)
    if session_url is None:
        async with _setup_lock(url, pool):
            await saver.setup()
            await store.setup()
        return saver, store
    async with _postgres_pool(session_url, 2, application_name, False) as direct:
        async with _setup_lock(session_url, direct):
            await AsyncPostgresSaver(direct).setup()
            await AsyncPostgresStore(direct).setup()
    return saver, store


class _LazySqliteStore(BaseStore):
    """langgraph's SQLite store, opened (and its tables made) on its first operation.

    Its module loads sqlite-vec and numpy, some 17 MB a process keeps for nothing until
    a graph or the ``/store`` API uses the store.
    """

    def __init__(self, url: str, exit: contextlib.AsyncExitStack) -> None:
        self._url, self._exit = url, exit
        self._store: Any = None
        self._opening = asyncio.Lock()
        self._loop = asyncio.get_running_loop()

    async def _opened(self) -> Any:
        async with self._opening:
            if self._store is None:
                from langgraph.store.sqlite.aio import AsyncSqliteStore

                store = AsyncSqliteStore(await _sqlite(str(sqlite_path(self._url)), self._exit))
                async with _setup_lock(self._url, None):
                    await store.setup()
                self._store = store
        return self._store

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run operations."""
        return cast(list[Result], await (await self._opened()).abatch(ops))

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run operations (from a sync node's thread), on the loop the store lives on."""
        return asyncio.run_coroutine_threadsafe(self.abatch(ops), self._loop).result()


async def delete_run_checkpoints(saver: Any, thread_id: str, run_id: str) -> None:
    """Delete the checkpoints (and their writes) that one run made on a thread."""
    if isinstance(saver.conn, aiosqlite.Connection):
        async with saver.lock:
            cur = await saver.conn.execute(
                "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? "
                "AND json_extract(CAST(metadata AS TEXT), '$.run_id') = ?",
                (thread_id, run_id),
            )
            ids = [r[0] for r in await cur.fetchall()]
            for cid in ids:
                for table in ("writes", "checkpoints"):
                    await saver.conn.execute(
                        f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id = ?",
                        (thread_id, cid),
                    )
            await saver.conn.commit()
        return
    async with saver.conn.connection() as conn:
        rows = await conn.execute(
            "SELECT checkpoint_id FROM checkpoints WHERE thread_id = %s "
            "AND metadata->>'run_id' = %s",
            (thread_id, run_id),
        )
        ids = [r["checkpoint_id"] for r in await rows.fetchall()]
        for table in ("checkpoint_writes", "checkpoints"):
            await conn.execute(
                f"DELETE FROM {table} WHERE thread_id = %s AND checkpoint_id = ANY(%s)",
                (thread_id, ids),
            )
