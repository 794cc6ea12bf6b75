"""Which exceptions mean "the database cannot be had right now" rather than a bug.

The API answers these with 503 and Retry-After (``api/errors.py``); the engine retries
the write that met one. Everything else is a real error and is not retried.
"""

import asyncio
import sqlite3
import sys

import sqlalchemy.exc as sa_exc

# SQLSTATE classes of a connection that failed or a server that cannot serve: connection
# exception, insufficient resources (too many clients), operator intervention (shutdown).
_TRANSIENT_CLASSES = ("08", "53", "57")
_QUERY_CANCELED = "57014"  # a statement_timeout: the statement's fault, not the server's


def database_unavailable(exc: BaseException) -> bool:
    """Tell whether ``exc`` is a refused, cut, exhausted or restarting database."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (sa_exc.TimeoutError, *_loaded("psycopg_pool", "PoolTimeout"))):
        return True  # no pooled connection came free in time
    cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    cause = getattr(cause, "__cause__", None) or cause  # asyncpg's, under the adapter's
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if isinstance(state, str) and state != _QUERY_CANCELED:
        return state[:2] in _TRANSIENT_CLASSES
    if isinstance(
        cause,
        (
            ConnectionError,
            asyncio.TimeoutError,
            *_loaded("asyncpg", "PostgresConnectionError", "InterfaceError"),
            *_loaded("psycopg", "OperationalError"),
        ),
    ):
        return True
    if isinstance(cause, OSError) and not isinstance(cause, FileNotFoundError):
        return True  # connect() refused, reset or unreachable
    # SQLite: a writer held the file past the busy timeout.
    return isinstance(cause, sqlite3.OperationalError) and "locked" in str(cause)


def _loaded(module: str, *names: str) -> tuple[type[BaseException], ...]:
    """The driver's exception classes, if this process loaded the driver at all.

    A SQLite process never imports the Postgres drivers, and what it never loaded
    cannot have raised.
    """
    found = sys.modules.get(module)
    return tuple(getattr(found, name) for name in names) if found is not None else ()
