"""The pure parts of scoring runs: the completion sample and a suite's percentiles."""

import pytest

from runplane.domain.ids import new_id
from runplane.services.benchmark_scores import completion_result_id, sampled
from runplane.services.suites import percentile

pytestmark = pytest.mark.database_independent


def test_the_completion_sample_takes_about_its_percentage_and_every_process_agrees() -> None:
    runs = [new_id("run") for _ in range(4000)]
    share = sum(sampled(r, "bch_x", 25) for r in runs) / len(runs)
    assert 0.22 < share < 0.28
    assert [sampled(r, "bch_x", 25) for r in runs[:50]] == [
        sampled(r, "bch_x", 25) for r in runs[:50]
    ]
    assert all(sampled(r, "bch_x", 100) for r in runs[:200])
    assert not any(sampled(r, "bch_x", 0) for r in runs[:200])
    assert completion_result_id(runs[0], "bch_x") == completion_result_id(runs[0], "bch_x")
    assert completion_result_id(runs[0], "bch_x") != completion_result_id(runs[0], "bch_y")


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([], 0.5) is None
