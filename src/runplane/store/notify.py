"""Cross-process wake-ups on Postgres: NOTIFY on commit, LISTEN in every process.

SQLite has no such channel; its processes fall back to polling.
"""

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from runplane.store.db import Conn, direct
from runplane.store.retry import backoff

if TYPE_CHECKING:
    import asyncpg

CHANNEL = "runplane_runs"
# Stream parts of a run were relayed (graphs/relay.py): listeners on API nodes read them.
PARTS = "runplane_parts"
# A listener on an API node joined a run's stream: its worker starts relaying the parts.
JOINS = "runplane_joins"
# A tenant's webhook endpoints changed: every process forgets the ones it keeps in memory.
ENDPOINTS = "runplane_webhook_endpoints"
log = logging.getLogger("runplane.notify")
_NOTIFY = direct(sa.text("SELECT pg_notify(:channel, :payload)"))
# This process's own notifications come back to it; its waiters were woken already.
ORIGIN = secrets.token_hex(6)
# A LISTEN connection says nothing while no one writes: it is asked for an answer this
# often, so that one a stalled network left hanging is found and replaced.
PING_SECONDS = 5.0
CONNECT_TIMEOUT = 10.0


def _lost_connection() -> tuple[type[BaseException], ...]:
    """How a LISTEN connection fails when the database goes away.

    asyncpg is imported here, not at the top: a SQLite process never loads it.
    """
    import asyncpg

    return (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


async def announce(conn: Conn, run_id: str, channel: str = CHANNEL) -> None:
    """Tell every other listening process that the run changed (delivered at commit)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(_NOTIFY, {"channel": channel, "payload": f"{run_id} {ORIGIN}"})


class Listener:
    """One LISTEN connection that calls ``handlers[channel](run_id)`` for each notification.

    The connection is replaced when it is lost (a restart, a reset) or stops answering;
    notifications sent meanwhile are lost, so ``on_reconnect()`` is called once it is
    back (waiters then look for themselves).
    """

    def __init__(
        self,
        database_url: str,
        handlers: Mapping[str, Callable[[str], None]],
        on_reconnect: Callable[[], None] = lambda: None,
        application_name: str = "runplane",
    ) -> None:
        u = make_url(database_url)
        self._dsn = u.set(drivername="postgresql").render_as_string(hide_password=False)
        self._handlers = dict(handlers)
        self._application_name = application_name
        self._on_reconnect = on_reconnect
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._watch: asyncio.Task[None] | None = None
        self.reconnects = 0

    async def start(self) -> None:
        """Open the connection, start listening, and keep watch over it.

        A connection lost before it listens (the database restarting as this process
        starts) is opened again in the background: the process starts all the same.
        """
        try:
            await self._connect()
        except _lost_connection() as exc:
            log.warning("LISTEN connection not opened (%s); trying again", exc)
            self._lost.set()
        self._watch = asyncio.create_task(self._keep())

    async def _connect(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(
            self._dsn,
            timeout=CONNECT_TIMEOUT,
            server_settings={"application_name": self._application_name},
        )
        try:
            for channel in self._handlers:
                await conn.add_listener(channel, self._deliver)
        except BaseException:
            conn.terminate()
            raise
        # Only this connection's loss counts (the one dropped before it also reports).
        conn.add_termination_listener(lambda c: self._lost.set() if c is self._conn else None)
        self._lost.clear()
        self._conn = conn

    def _deliver(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        run_id, _, origin = payload.partition(" ")
        if origin != ORIGIN:
            self._handlers[channel](run_id)

    async def _keep(self) -> None:
        """Wait for the connection to be lost (or to stop answering); then open another."""
        while True:
            try:
                await asyncio.wait_for(self._lost.wait(), PING_SECONDS)
            except TimeoutError:
                if await self._answers():
                    continue
            self._drop()
            attempt = 0
            while True:
                try:
                    await self._connect()
                    break
                except _lost_connection() as exc:
                    delay = backoff(attempt)
                    attempt += 1
                    log.warning("LISTEN connection lost (%s); trying again in %.2f s", exc, delay)
                    await asyncio.sleep(delay)
            self.reconnects += 1
            log.warning("LISTEN connection replaced")
            self._on_reconnect()

    async def _answers(self) -> bool:
        if self._conn is None:
            return False
        try:
            await asyncio.wait_for(self._conn.fetchval("SELECT 1"), PING_SECONDS)
        except _lost_connection():
            return False
        return True

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.terminate()  # no goodbye: the other end may be gone
            self._conn = None

    async def stop(self) -> None:
        """Stop watching and close the connection."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), CONNECT_TIMEOUT)
            except _lost_connection():
                conn.terminate()
