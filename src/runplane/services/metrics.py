"""``/metrics``: this process's metrics in Prometheus' text format, and its own listener.

The database's gauges are read at most every ``CACHE_SECONDS`` (several scrapers, or a
short scrape interval, cost one set of indexed counts). With ``RUNPLANE_METRICS_BIND``
set, a plain HTTP listener on that address serves them without a key (bind it where
only the scraper reaches), and the API does not serve them at all.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from runplane.domain.errors import Invalid
from runplane.domain.models import Principal, utcnow
from runplane.domain.roles import Permission
from runplane.engine.metrics import Snapshot
from runplane.services.runtime import Runtime
from runplane.store import metrics as metrics_store

log = logging.getLogger("runplane.metrics")

CACHE_SECONDS = 5.0
CONTENT_TYPE = CONTENT_TYPE_LATEST
_REQUEST_SECONDS = 5.0
_MAX_REQUEST = 8192


async def scrape(rt: Runtime, who: Principal) -> bytes:
    """The exposition for an admin key (others: Forbidden)."""
    who.require(Permission.MANAGE_KEYS)
    return await exposition(rt)


async def exposition(rt: Runtime) -> bytes:
    """This process's metrics in Prometheus' text format, the database's gauges refreshed."""
    await _refresh(rt)
    return generate_latest(rt.metrics.registry)


async def _refresh(rt: Runtime) -> None:
    """Read the database's gauges again if the last reading is older than the cache."""
    now = time.monotonic()
    if now - rt.metrics.snapshot.at < CACHE_SECONDS:
        return
    async with rt.db.read() as conn:
        g = await metrics_store.read_gauges(conn)
    wall = utcnow()
    queues = {
        t: (n, max((wall - oldest).total_seconds(), 0.0)) for t, (n, oldest) in g.queues.items()
    }
    rt.metrics.snapshot = Snapshot(now, g.active, queues, g.approvals_waiting, g.webhooks_pending)


def parse_bind(bind: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9100`` for IPv6) as a host and a port, or Invalid."""
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise Invalid(f"RUNPLANE_METRICS_BIND must be host:port, not {bind!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


@asynccontextmanager
async def metrics_listener(rt: Runtime, bind: str) -> AsyncIterator[asyncio.Server | None]:
    """Serve ``GET /metrics`` without a key on ``bind`` while the block runs.

    If the address is taken (another process of a ``--processes N`` server holds it),
    this process's metrics are not served there, and a warning says so.
    """
    host, port = parse_bind(bind)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_REQUEST_SECONDS):
                head = await reader.readuntil(b"\r\n\r\n")
            method, _, rest = head[:_MAX_REQUEST].decode("latin-1").partition(" ")
            path = rest.partition(" ")[0].partition("?")[0]
            if method in ("GET", "HEAD") and path == "/metrics":
                body = await exposition(rt)
                status, kind = "200 OK", CONTENT_TYPE
            else:
                body, status, kind = b"not found\n", "404 Not Found", "text/plain"
            head_out = (
                f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            writer.write(head_out if method == "HEAD" else head_out + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # a client that sent no request, or left: nothing to answer
        finally:
            writer.close()

    try:
        server: asyncio.Server | None = await asyncio.start_server(answer, host, port)
    except OSError as e:
        log.warning("metrics not served on %s: %s", bind, e)
        server = None
    try:
        yield server
    finally:
        if server is not None:
            server.close()
            await server.wait_closed()
