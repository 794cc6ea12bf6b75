"""Which exceptions say "the database cannot be had right now" (a 503), and which are bugs."""

import sqlite3

import asyncpg
import psycopg
import psycopg_pool
import pytest
import sqlalchemy.exc as sa_exc

from runplane.store.unavailable import database_unavailable

pytestmark = pytest.mark.database_independent


@pytest.mark.parametrize(
    "exc",
    [
        sa_exc.TimeoutError("QueuePool limit of size 2 overflow 0 reached"),
        psycopg_pool.PoolTimeout("couldn't get a connection after 0.50 sec"),
        asyncpg.PostgresConnectionError("connection was closed"),
        asyncpg.InterfaceError("connection is closed"),
        psycopg.OperationalError("server closed the connection unexpectedly"),
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
        sqlite3.OperationalError("database is locked"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_refused_cut_exhausted_or_locked_database_is_unavailable(exc: BaseException) -> None:
    assert database_unavailable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("a bug"),
        sqlite3.OperationalError("no such table: runs"),
        FileNotFoundError("no such file"),
        KeyError("id"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_anything_else_is_a_real_error(exc: BaseException) -> None:
    assert not database_unavailable(exc)
