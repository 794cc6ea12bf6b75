"""The event hash chain: a true log verifies; any change, loss, swap or insertion is found."""

from typing import Any

import pytest

from runplane.domain.events import GENESIS, ChainCheck, event_hash, verify_chain

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only

RUN = "run_01TEST"
Event = dict[str, Any]


def chain(n: int = 6, run_id: str = RUN) -> list[Event]:
    """A run's log of ``n`` events, hashed as the store hashes them."""
    events: list[Event] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        ev: Event = {
            "seq": seq,
            "type": "step.completed" if seq % 2 else "message.delta",
            "at": f"2025-01-01T00:00:{seq:02d}.000000Z",
            "data": {"step": seq, "output": {"text": f"ünïcode {seq}", "items": [seq, None]}},
            "prev_hash": prev,
        }
        ev["hash"] = event_hash(prev, run_id, seq, ev["type"], ev["at"], ev["data"])
        prev = ev["hash"]
        events.append(ev)
    return events


def rehash_from(events: list[Event], position: int, run_id: str = RUN) -> list[Event]:
    """What a forger would do: recompute every hash from ``position`` (0-based) on."""
    prev = events[position - 1]["hash"] if position else GENESIS
    for ev in events[position:]:
        ev["prev_hash"] = prev
        ev["hash"] = event_hash(prev, run_id, ev["seq"], ev["type"], ev["at"], ev["data"])
        prev = ev["hash"]
    return events


def test_a_true_log_verifies() -> None:
    assert verify_chain(RUN, chain(6)) == ChainCheck(True, 6, None)
    assert verify_chain(RUN, iter(chain(1))) == ChainCheck(True, 1, None)


def test_an_empty_log_verifies() -> None:
    assert verify_chain(RUN, []) == ChainCheck(True, 0, None)


def test_the_first_event_follows_genesis() -> None:
    events = chain(3)
    assert events[0]["prev_hash"] == GENESIS == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(events, events[1:], strict=False))


def test_the_log_of_one_run_does_not_verify_as_another() -> None:
    assert verify_chain("run_OTHER", chain(3)) == ChainCheck(False, 1, 1)


@pytest.mark.parametrize("seq", [1, 3, 6])
@pytest.mark.parametrize(
    ("field", "forged"),
    [
        ("type", "error"),
        ("at", "2030-01-01T00:00:00.000000Z"),
        ("data", {"step": 0}),
        ("hash", "f" * 64),
        ("prev_hash", "e" * 64),
    ],
)
def test_changing_any_field_of_any_event_is_found_at_that_event(
    field: str, forged: Any, seq: int
) -> None:
    events = chain(6)
    events[seq - 1][field] = forged
    assert verify_chain(RUN, events) == ChainCheck(False, seq, seq)


@pytest.mark.parametrize("seq", [1, 3, 6])
def test_changing_one_value_deep_in_the_data_is_found(seq: int) -> None:
    events = chain(6)
    events[seq - 1]["data"]["output"]["items"][1] = 0
    assert verify_chain(RUN, events) == ChainCheck(False, seq, seq)


@pytest.mark.parametrize("seq", [1, 3, 5])
def test_an_event_rehashed_after_a_change_breaks_the_link_to_the_next(seq: int) -> None:
    events = chain(6)
    events[seq - 1]["data"] = {"step": "forged"}
    rehash_from(events[:seq], seq - 1)  # this event only
    assert verify_chain(RUN, events) == ChainCheck(False, seq + 1, seq + 1)


def test_rehashing_the_whole_tail_makes_a_chain_whose_last_hash_differs() -> None:
    # The chain alone cannot tell a fully rewritten tail: the run keeps its last hash for that.
    true_last = chain(6)[-1]["hash"]
    events = chain(6)
    events[2]["data"] = {"step": "forged"}
    rehash_from(events, 2)
    assert verify_chain(RUN, events) == ChainCheck(True, 6, None)
    assert events[-1]["hash"] != true_last


@pytest.mark.parametrize("seq", [1, 2, 3, 5, 6])
def test_changing_the_seq_of_an_event_is_found_at_its_place(seq: int) -> None:
    events = chain(6)
    events[seq - 1]["seq"] = seq + 10
    assert verify_chain(RUN, events) == ChainCheck(False, seq, seq)


@pytest.mark.parametrize("seq", [1, 2, 4, 5])
def test_removing_an_event_is_found_where_it_was(seq: int) -> None:
    events = chain(6)
    del events[seq - 1]
    assert verify_chain(RUN, events) == ChainCheck(False, seq, seq)


@pytest.mark.parametrize("seq", [1, 2, 4, 5])
def test_removing_an_event_and_renumbering_the_rest_is_found_where_it_was(seq: int) -> None:
    events = chain(6)
    del events[seq - 1]
    for position, ev in enumerate(events, start=1):
        ev["seq"] = position
    assert verify_chain(RUN, events) == ChainCheck(False, seq, seq)


def test_removing_the_last_event_leaves_a_chain_that_verifies() -> None:
    # A cut tail is caught by comparing with the run's last_seq and last_hash, not here.
    events = chain(6)
    del events[-1]
    assert verify_chain(RUN, events) == ChainCheck(True, 5, None)


def test_against_the_runs_head_a_cut_tail_is_found_at_the_first_missing_event() -> None:
    events = chain(6)
    head = (6, events[-1]["hash"])
    assert verify_chain(RUN, events, head) == ChainCheck(True, 6, None)
    assert verify_chain(RUN, events[:4], head) == ChainCheck(False, 4, 5)


def test_against_the_runs_head_a_rewritten_tail_is_found() -> None:
    true = chain(6)
    events = chain(6)
    events[2]["data"] = {"step": "forged"}
    rehash_from(events, 2)
    assert verify_chain(RUN, events, (6, true[-1]["hash"])) == ChainCheck(False, 6, 6)


def test_against_the_runs_head_events_past_its_end_are_found_at_the_first_extra() -> None:
    events = chain(6)
    assert verify_chain(RUN, events, (4, events[3]["hash"])) == ChainCheck(False, 6, 5)


@pytest.mark.parametrize("seq", [1, 3, 5])
def test_swapping_two_neighbours_is_found_at_the_first(seq: int) -> None:
    events = chain(6)
    events[seq - 1], events[seq] = events[seq], events[seq - 1]
    assert verify_chain(RUN, events) == ChainCheck(False, seq, seq)


@pytest.mark.parametrize("seq", [1, 3, 5])
def test_swapping_two_neighbours_and_their_seqs_is_found_at_the_first(seq: int) -> None:
    events = chain(6)
    events[seq - 1], events[seq] = events[seq], events[seq - 1]
    events[seq - 1]["seq"], events[seq]["seq"] = seq, seq + 1
    assert verify_chain(RUN, events) == ChainCheck(False, seq, seq)


def test_reversing_the_log_is_found_at_the_first_event() -> None:
    assert verify_chain(RUN, chain(6)[::-1]) == ChainCheck(False, 1, 1)


@pytest.mark.parametrize("seq", [1, 4, 7])
def test_inserting_a_made_up_event_is_found_where_it_went(seq: int) -> None:
    events = chain(6)
    prev = events[seq - 2]["hash"] if seq > 1 else GENESIS
    events.insert(
        seq - 1,
        {"seq": seq, "type": "result", "at": "x", "data": {}, "prev_hash": prev, "hash": "0" * 64},
    )
    assert verify_chain(RUN, events) == ChainCheck(False, seq, seq)


@pytest.mark.parametrize("seq", [1, 4])
def test_inserting_a_well_hashed_event_is_found_at_the_one_it_pushed_along(seq: int) -> None:
    events = chain(6)
    prev = events[seq - 2]["hash"] if seq > 1 else GENESIS
    forged: Event = {"seq": seq, "type": "result", "at": "x", "data": {"ok": True}}
    forged |= {
        "prev_hash": prev,
        "hash": event_hash(prev, RUN, seq, forged["type"], forged["at"], forged["data"]),
    }
    events.insert(seq - 1, forged)
    assert verify_chain(RUN, events) == ChainCheck(False, seq + 1, seq + 1)


@pytest.mark.parametrize(
    ("seqs", "first_bad"),
    [
        ([1, 2, 4, 5], 3),
        ([2, 3, 4], 1),
        ([0, 1, 2], 1),
        ([1, 2, 2, 3], 3),
        ([1, 3], 2),
    ],
)
def test_a_gap_or_repeat_in_seq_is_found_at_the_first_missing_number(
    seqs: list[int], first_bad: int
) -> None:
    # Each event is well hashed for the seq it carries: only the numbering is wrong.
    events: list[Event] = []
    prev = GENESIS
    for seq in seqs:
        ev: Event = {"seq": seq, "type": "status", "at": "t", "data": {"seq": seq}}
        ev |= {"prev_hash": prev, "hash": event_hash(prev, RUN, seq, "status", "t", ev["data"])}
        prev = ev["hash"]
        events.append(ev)
    assert verify_chain(RUN, events) == ChainCheck(False, first_bad, first_bad)


# -- the hash ----------------------------------------------------------------------------


def test_the_hash_is_sha256_hex_and_the_same_for_the_same_event() -> None:
    h = event_hash(GENESIS, RUN, 1, "status", "t", {"a": 1})
    assert len(h) == 64 and int(h, 16) >= 0
    assert h == event_hash(GENESIS, RUN, 1, "status", "t", {"a": 1})


def test_the_hash_ignores_the_order_of_keys_in_the_data() -> None:
    # The data comes back from a JSON column, whose key order is not guaranteed.
    assert event_hash(GENESIS, RUN, 1, "s", "t", {"a": 1, "b": {"c": 2, "d": 3}}) == event_hash(
        GENESIS, RUN, 1, "s", "t", {"b": {"d": 3, "c": 2}, "a": 1}
    )


@pytest.mark.parametrize(
    "changed",
    [
        ("1" * 64, RUN, 1, "status", "t", {"a": 1}),
        (GENESIS, "run_OTHER", 1, "status", "t", {"a": 1}),
        (GENESIS, RUN, 2, "status", "t", {"a": 1}),
        (GENESIS, RUN, 1, "result", "t", {"a": 1}),
        (GENESIS, RUN, 1, "status", "u", {"a": 1}),
        (GENESIS, RUN, 1, "status", "t", {"a": 2}),
        (GENESIS, RUN, 1, "status", "t", {"a": "1"}),
        (GENESIS, RUN, 1, "status", "t", {"a": 1.5}),
        (GENESIS, RUN, 1, "status", "t", None),
    ],
)
def test_the_hash_covers_every_input(changed: tuple[Any, ...]) -> None:
    assert event_hash(*changed) != event_hash(GENESIS, RUN, 1, "status", "t", {"a": 1})
