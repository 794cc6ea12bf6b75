"""Passing database failures: telling them from lasting ones, and trying again after them.

A connection refused, reset or timed out, a server restarting or out of connections, a
pool with no free connection, a deadlock: none says anything about the write itself,
which succeeds once the database is back. These are retried; anything else (a broken
constraint, a bad statement) is raised at once.
"""

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import sqlalchemy as sa

log = logging.getLogger("runplane.store")
T = TypeVar("T")

# SQLSTATE classes: 08 connection exception, 53 insufficient resources (too many
# connections, disk full), 57 operator intervention (shutdown, crash, cannot connect now).
TRANSIENT_CLASSES = ("08", "53", "57")
# 40001 serialization failure, 40P01 deadlock, 25P03 idle-in-transaction timeout.
TRANSIENT_CODES = frozenset({"40001", "40P01", "25P03"})
# 57014 is a statement someone canceled (a timeout we set): not a passing failure.
NOT_TRANSIENT = frozenset({"57014"})
# How long a write keeps trying before its caller gives up: longer than a restart, a
# failover or a stalled network, short enough that an outage is reported.
RETRY_SECONDS = 300.0
MAX_DELAY = 5.0


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what SQLAlchemy wrapped, and what it was raised from."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen or len(seen) > 10:
            continue
        seen.add(id(e))
        yield e
        orig = getattr(e, "orig", None)
        todo += [orig if isinstance(orig, BaseException) else None, e.__cause__, e.__context__]


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE a database error carries, if any (asyncpg, psycopg, via SQLAlchemy)."""
    for e in _causes(exc):
        code = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
        if isinstance(code, str) and code:
            return code
    return None


def is_transient(exc: BaseException) -> bool:
    """Tell whether ``exc``, raised by code that only talks to the database, may pass."""
    if type(exc).__module__.startswith("runplane."):
        # runplane's own verdict (a write that went stale, a refusal) stands, even when it
        # was raised while a database failure was being handled (its __context__).
        return False
    code = sqlstate(exc)
    if code is not None:
        if code in NOT_TRANSIENT:
            return False
        return code in TRANSIENT_CODES or code[:2] in TRANSIENT_CLASSES
    for e in _causes(exc):
        if isinstance(e, sa.exc.DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(e, sa.exc.TimeoutError):  # no pooled connection came free in time
            return True
        if isinstance(e, OSError | TimeoutError):  # refused, reset, unreachable, timed out
            return True
        psycopg = type(e).__module__.startswith("psycopg")
        if psycopg and type(e).__name__ in ("OperationalError", "PoolTimeout"):
            return True  # psycopg (the graph savers) got no answer from the server
        if "connection is closed" in str(e) or "connection was closed" in str(e):
            return True
    return False


def is_database_outage(exc: BaseException) -> bool:
    """Tell whether ``exc``, raised where agent code runs too, is the database failing.

    An agent's own ``ConnectionError`` is the agent's failure; a driver's is ours.
    """
    return is_transient(exc) and any(
        type(e).__module__.split(".")[0] in _DRIVERS for e in _causes(exc)
    )


_DRIVERS = frozenset({"sqlalchemy", "asyncpg", "psycopg", "psycopg_pool"})


def backoff(attempt: int) -> float:
    """Seconds to wait before try number ``attempt`` + 1: doubling, jittered, capped."""
    return float(min(MAX_DELAY, 0.05 * 2.0**attempt) * random.uniform(0.5, 1.0))


async def retrying(
    fn: Callable[[], Awaitable[T]], what: str, *, within: float = RETRY_SECONDS
) -> T:
    """Await ``fn()``, again after each passing failure, for ``within`` s after the first."""
    deadline: float | None = None
    attempt = 0
    while True:
        try:
            return await fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            delay = backoff(attempt)
            deadline = deadline or time.monotonic() + within
            if time.monotonic() + delay > deadline:
                raise
            attempt += 1
            log.warning(
                "%s failed (%s); trying again in %.2f s",
                what,
                describe(exc),
                delay,
                extra={"attempt": attempt},
            )
            await asyncio.sleep(delay)


def describe(exc: BaseException) -> str:
    """A database failure on one line: its SQLSTATE and first line of text."""
    code = sqlstate(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{code}: {text}" if code else f"{type(exc).__name__}: {text}"
