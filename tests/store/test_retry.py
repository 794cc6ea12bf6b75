"""Which database failures are tried again (store/retry.py)."""

import asyncio

import pytest

from runplane.store.retry import is_transient, retrying
from runplane.store.runs import StaleRun

pytestmark = pytest.mark.database_independent


def _raised_while_handling(outer: Exception, inner: Exception) -> Exception:
    try:
        try:
            raise inner
        except type(inner):
            raise outer  # noqa: B904 - what a rollback during an unwind does
    except type(outer) as exc:
        return exc


def test_a_connection_reset_is_transient_and_a_bad_statement_is_not() -> None:
    assert is_transient(ConnectionResetError("reset by peer"))
    assert not is_transient(ValueError("no such column"))


def test_a_stale_write_raised_during_a_connection_failure_is_not_tried_again() -> None:
    stale = _raised_while_handling(StaleRun("run_1"), ConnectionResetError("reset"))
    assert isinstance(stale.__context__, ConnectionResetError)
    assert not is_transient(stale)

    tries = 0

    async def write() -> None:
        nonlocal tries
        tries += 1
        raise stale

    with pytest.raises(StaleRun):
        asyncio.run(retrying(write, "writing run run_1"))
    assert tries == 1
