"""The async database handle: a read pool and a write pool over one database."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from runplane.store.dialect import async_url, configure_sqlite, ensure_sqlite_dir, is_sqlite


class Database:
    """Connections to runplane's tables.

    On SQLite, writes go through one connection (SQLite has one writer at a time, and
    queueing in the pool is cheaper than spinning on the file lock); reads use others.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = is_sqlite(url)
        if self.is_sqlite:
            ensure_sqlite_dir(url)
            self._writer = create_async_engine(async_url(url), pool_size=1, max_overflow=0)
            self._reader = create_async_engine(async_url(url), pool_size=4, max_overflow=4)
            configure_sqlite(self._writer.sync_engine, immediate=True)
            configure_sqlite(self._reader.sync_engine, immediate=False)
        else:
            self._writer = create_async_engine(
                async_url(url), pool_size=10, max_overflow=10, pool_pre_ping=False
            )
            self._reader = self._writer

    @property
    def engine(self) -> AsyncEngine:
        """The write engine (for the few callers that need the engine itself)."""
        return self._writer

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A connection inside a transaction that commits on exit."""
        async with self._writer.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reading."""
        async with self._reader.connect() as conn:
            yield conn

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._writer.dispose()
        if self._reader is not self._writer:
            await self._reader.dispose()
