"""The public surface is small and pinned."""

import pytest

import runplane

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only


def test_public_names_are_pinned() -> None:
    assert sorted(runplane.__all__) == [
        "AsyncClient",
        "Client",
        "RunCanceled",
        "RunContext",
        "RunError",
        "ToolContext",
        "ToolError",
        "agent",
        "tool",
    ]
    for name in runplane.__all__:
        assert getattr(runplane, name) is not None


def test_run_canceled_cannot_be_swallowed_by_except_exception() -> None:
    assert not issubclass(runplane.RunCanceled, Exception)
    assert issubclass(runplane.RunCanceled, BaseException)
