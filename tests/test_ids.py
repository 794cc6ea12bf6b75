"""Ids: prefixed, 26 Crockford base32 characters, ordered by creation time."""

import re
import time

from runplane.domain.ids import has_prefix, new_id


def test_ids_are_prefixed_crockford_base32() -> None:
    value = new_id("run")
    assert re.fullmatch(r"run_[0-9a-hjkmnp-tv-z]{26}", value)
    assert has_prefix(value, "run") and not has_prefix(value, "apr")


def test_later_ids_sort_after_earlier_ones() -> None:
    earlier = new_id("run")
    time.sleep(0.002)
    assert new_id("run") > earlier
    assert len({new_id("run") for _ in range(1000)}) == 1000
