"""A run's liveness, decided from its status, its owner's heartbeat and its last event."""

from datetime import UTC, datetime, timedelta

import pytest

from runplane.domain.liveness import liveness, owner_alive, stall_limit

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
RECENT = NOW - timedelta(seconds=5)
QUIET = NOW - timedelta(minutes=20)


@pytest.mark.parametrize(
    ("status", "alive", "last", "expected"),
    [
        ("running", True, RECENT, "working"),
        ("running", True, QUIET, "stalled"),
        ("running", False, RECENT, "lost"),
        ("running", False, QUIET, "lost"),  # a gone owner says more than a quiet log
        ("running", None, RECENT, "working"),  # no claim written yet: judged by progress
        ("running", None, QUIET, "stalled"),
        ("running", True, None, "working"),
        ("queued", None, QUIET, None),
        ("paused", None, QUIET, None),  # waiting on an approval is not stalling
        ("auth_required", None, QUIET, None),
        ("succeeded", False, QUIET, None),
        ("failed", False, QUIET, None),
        ("canceled", False, QUIET, None),
    ],
)
def test_liveness_of_a_run(
    status: str, alive: bool | None, last: datetime | None, expected: str | None
) -> None:
    assert liveness(status, alive, last, 600.0, NOW) == expected


def test_a_run_quiet_exactly_its_limit_is_still_working() -> None:
    assert liveness("running", True, NOW - timedelta(seconds=600), 600.0, NOW) == "working"
    assert liveness("running", True, NOW - timedelta(seconds=601), 600.0, NOW) == "stalled"


@pytest.mark.parametrize(
    ("owner", "beat", "expected"),
    [
        (None, None, None),  # nobody holds the run
        ("w1", None, False),  # its heartbeat row is gone
        ("w1", NOW - timedelta(seconds=2), True),
        ("w1", NOW - timedelta(seconds=5), True),
        ("w1", NOW - timedelta(seconds=6), False),
    ],
)
def test_an_owner_is_alive_while_its_heartbeat_is_younger_than_dead_after(
    owner: str | None, beat: datetime | None, expected: bool | None
) -> None:
    assert owner_alive(owner, beat, 5.0, NOW) is expected


def test_the_stall_limit_is_the_setting_capped_by_the_runs_own_timeout() -> None:
    assert stall_limit(600.0, 3600.0) == 600.0
    assert stall_limit(600.0, 60.0) == 60.0
    assert stall_limit(600.0, None) == 600.0
