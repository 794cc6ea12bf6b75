"""Cross-process wake-ups on Postgres: NOTIFY on commit, LISTEN in every process.

SQLite has no such channel; its processes fall back to polling.
"""

import logging
import secrets
from collections.abc import Callable

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from runplane.store.db import Conn

CHANNEL = "runplane_runs"
log = logging.getLogger("runplane.notify")
_NOTIFY = sa.text("SELECT pg_notify(:channel, :payload)")
# This process's own notifications come back to it; its waiters were woken already.
ORIGIN = secrets.token_hex(6)


async def announce(conn: Conn, run_id: str) -> None:
    """Tell every other listening process that the run changed (delivered at commit)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(_NOTIFY, {"channel": CHANNEL, "payload": f"{run_id} {ORIGIN}"})


class Listener:
    """One LISTEN connection that calls ``on_change(run_id)`` for every notification."""

    def __init__(self, database_url: str, on_change: Callable[[str], None]) -> None:
        u = make_url(database_url)
        self._dsn = u.set(drivername="postgresql").render_as_string(hide_password=False)
        self._on_change = on_change
        self._conn: asyncpg.Connection | None = None

    async def start(self) -> None:
        """Open the connection and start listening."""
        self._conn = await asyncpg.connect(self._dsn)
        await self._conn.add_listener(CHANNEL, self._deliver)

    def _deliver(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        run_id, _, origin = payload.partition(" ")
        if origin != ORIGIN:
            self._on_change(run_id)

    async def stop(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
