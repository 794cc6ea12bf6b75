"""The run state machine: every (from, to) pair, the terminal states, the drawn table."""

import itertools

import pytest

from runplane.domain import lifecycle
from runplane.domain.errors import Conflict
from runplane.domain.lifecycle import TERMINAL, RunStatus, can_transition, transition

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only

Q, R, P, A = RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.AUTH_REQUIRED
S, F, C = RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED

# The specification, written out by hand (not read from the module under test).
LEGAL = {
    (Q, R),
    (Q, F),  # its revision vanished before it started
    (Q, C),
    (R, P),
    (R, A),
    (R, S),
    (R, F),
    (R, C),
    (P, R),
    (P, S),  # a graph run paused at an interrupt, carried on by a later run on its thread
    (P, F),
    (P, C),
    (A, R),
    (A, F),
    (A, C),
}
PAIRS = list(itertools.product(RunStatus, RunStatus))


@pytest.mark.parametrize(("current", "new"), [p for p in PAIRS if p in LEGAL], ids=str)
def test_a_legal_move_returns_the_new_status(current: RunStatus, new: RunStatus) -> None:
    assert can_transition(current, new)
    assert transition(current, new) is new
    assert transition(str(current), str(new)) is new  # the stored strings work too


@pytest.mark.parametrize(("current", "new"), [p for p in PAIRS if p not in LEGAL], ids=str)
def test_every_other_move_raises_conflict(current: RunStatus, new: RunStatus) -> None:
    assert not can_transition(current, new)
    with pytest.raises(Conflict) as refused:
        transition(current, new)
    assert refused.value.status == 409
    assert refused.value.message == f"a {current} run cannot become {new}"
    assert refused.value.details == [{"name": "status", "value": str(current)}]


def test_the_pairs_cover_all_49_moves_and_the_table_is_the_specification() -> None:
    assert len(PAIRS) == 49
    assert {(c, n) for c, allowed in lifecycle.ALLOWED.items() for n in allowed} == LEGAL
    assert set(lifecycle.ALLOWED) == set(RunStatus)


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_a_terminal_status_has_no_way_out(status: RunStatus) -> None:
    assert status.terminal
    for new in RunStatus:
        with pytest.raises(Conflict):
            transition(status, new)


def test_only_succeeded_failed_and_canceled_are_terminal() -> None:
    assert TERMINAL == {S, F, C}
    assert [s for s in RunStatus if s.terminal] == [S, F, C]


def test_a_run_never_stays_where_it_is() -> None:
    for status in RunStatus:
        assert not can_transition(status, status)


def test_nothing_goes_back_to_queued() -> None:
    assert not any(can_transition(status, Q) for status in RunStatus)


# queued -> running -> (paused | auth_required -> running)* -> succeeded | failed | canceled
DRAWN_WALKS = [
    [Q, R, S],
    [Q, R, F],
    [Q, R, C],
    [Q, R, P, R, S],
    [Q, R, A, R, S],
    [Q, R, P, R, A, R, P, R, A, R, F],
]


@pytest.mark.parametrize("walk", DRAWN_WALKS, ids=lambda w: "-".join(w))
def test_every_walk_the_docstring_draws_is_legal_and_ends_for_good(
    walk: list[RunStatus],
) -> None:
    status = walk[0]
    for new in walk[1:]:
        status = transition(status, new)
    assert status.terminal


def test_the_docstring_draws_the_path_with_every_status() -> None:
    drawing = (lifecycle.__doc__ or "").splitlines()[2]
    assert drawing == (
        "queued -> running -> (paused | auth_required -> running)* -> succeeded | failed | canceled"
    )
    assert {s.value for s in RunStatus} <= set(drawing.replace("(", " ").replace(")*", " ").split())


def test_an_unknown_status_name_is_not_a_status() -> None:
    with pytest.raises(ValueError):
        transition("sleeping", "running")
    with pytest.raises(ValueError):
        transition("queued", "sleeping")
