"""The deterministic scorers, on plain values: what passes, what fails, and why it says so."""

import pytest

from runplane.domain.errors import Invalid
from runplane.domain.scoring import (
    Facts,
    diff,
    failed_thresholds,
    load_python_scorer,
    pass_rates,
    score,
    scorer_name,
)

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only

ANSWER = (
    "# Why WAL?\n\n"
    "Write-ahead logging keeps readers off the writer's back [1].\n\n"
    "Checkpoints fold the log back into the database [2].\n\n"
    "## Sources\n\n"
    "1. [SQLite WAL](corpus://wal.md)\n"
    "2. [Checkpoints](corpus://checkpoints.md)\n"
)
SOURCES = [{"title": "SQLite WAL"}, {"title": "Checkpoints"}]


def test_exact_ignores_whitespace_by_default_and_case_when_asked() -> None:
    spec = {"type": "exact"}
    assert score(spec, Facts(output="a  b\n", reference="a b")).passed
    assert not score(spec, Facts(output="A b", reference="a b")).passed
    assert score(
        {"type": "exact", "ignore_case": True}, Facts(output="A b", reference="a b")
    ).passed


def test_exact_on_a_field_compares_only_that_field() -> None:
    spec = {"type": "exact", "field": "user.name"}
    facts = Facts(output={"user": {"name": "ada", "age": 3}}, reference={"user": {"name": "ada"}})
    assert score(spec, facts).passed


def test_json_schema_names_the_failing_path() -> None:
    spec = {"type": "json_schema", "schema": {"type": "object", "required": ["title"]}}
    assert score(spec, Facts(output={"title": "x"})).passed
    bad = score(spec, Facts(output={"name": "x"}))
    assert not bad.passed and "title" in bad.reason


def test_json_fields_apply_numeric_tolerance_and_score_the_share_right() -> None:
    spec = {"type": "json_fields", "fields": {"total": 0.01, "currency": None}}
    ok = score(
        spec,
        Facts(
            output={"total": 10.004, "currency": "EUR"},
            reference={"total": 10.0, "currency": "EUR"},
        ),
    )
    assert ok.passed and ok.score == 1.0
    half = score(
        spec,
        Facts(
            output={"total": 10.5, "currency": "EUR"}, reference={"total": 10.0, "currency": "EUR"}
        ),
    )
    assert not half.passed and half.score == 0.5 and "total" in half.reason


def test_contains_defaults_to_the_reference_and_lists_what_is_missing() -> None:
    assert score({"type": "contains"}, Facts(output="the answer is 42.", reference="42")).passed
    missing = score({"type": "contains", "text": ["wal", "fsync"]}, Facts(output="WAL mode"))
    assert not missing.passed and missing.score == 0.5 and "fsync" in missing.reason


def test_regex_reports_a_bad_pattern_as_a_failed_verdict() -> None:
    assert score({"type": "regex", "pattern": r"^# "}, Facts(output=ANSWER)).passed
    bad = score({"type": "regex", "pattern": "("}, Facts(output="x"))
    assert not bad.passed and "invalid" in bad.reason


def test_numeric_closeness_absolute_and_relative() -> None:
    assert score({"type": "numeric", "tolerance": 0.5}, Facts(output="10.4", reference=10)).passed
    assert not score({"type": "numeric", "tolerance": 0.5}, Facts(output=11, reference=10)).passed
    assert score(
        {"type": "numeric", "tolerance": 0.1, "relative": True}, Facts(output=105, reference=100)
    ).passed
    assert score({"type": "numeric", "expected": 3, "field": "n"}, Facts(output={"n": 3})).passed


def test_citation_wants_sources_and_every_paragraph_cited() -> None:
    spec = {"type": "citation", "min_sources": 2}
    assert score(spec, Facts(output=ANSWER, sources=SOURCES)).passed
    assert not score(spec, Facts(output=ANSWER, sources=SOURCES[:1])).passed
    uncited = ANSWER.replace(" [2]", "")
    verdict = score({"type": "citation"}, Facts(output=uncited, sources=SOURCES))
    assert not verdict.passed and verdict.score == 0.5
    dangling = score(
        {"type": "citation"}, Facts(output=ANSWER.replace("[2]", "[7]"), sources=SOURCES)
    )
    assert not dangling.passed and "7" in dangling.reason


def test_latency_and_credits_limits_hold_even_for_a_failed_run() -> None:
    assert score({"type": "latency", "max_ms": 100}, Facts(output=None, latency_ms=40)).passed
    slow = score({"type": "latency", "max_ms": 100}, Facts(output=None, latency_ms=400))
    assert not slow.passed and slow.value == 400
    assert score(
        {"type": "credits", "max": 1}, Facts(output=None, status="failed", credits=0.2)
    ).passed


def test_a_failed_run_fails_output_scorers() -> None:
    verdict = score({"type": "exact"}, Facts(output=None, reference=None, status="failed"))
    assert not verdict.passed and "failed" in verdict.reason


def concise(output: object, reference: object, facts: object) -> dict[str, object]:
    words = len(str(output).split())
    return {"passed": words <= 250, "score": min(1.0, 250 / words), "reason": f"{words} words"}


def test_a_python_scorer_by_import_path() -> None:
    spec = {"type": "python", "path": f"{__name__}:concise", "name": "short"}
    assert score(spec, Facts(output="a tiny answer")).passed
    long = score(spec, Facts(output="word " * 500))
    assert not long.passed and long.scorer == "short" and long.score == 0.5
    assert "500 words" in long.reason
    with pytest.raises(Invalid):
        load_python_scorer("no.such.module:fn")


def test_pass_rates_and_thresholds_over_many_runs() -> None:
    runs = [
        [score({"type": "exact"}, Facts(output=1, reference=1)).as_json()],
        [score({"type": "exact"}, Facts(output=1, reference=2)).as_json()],
        [score({"type": "exact"}, Facts(output=2, reference=2)).as_json()],
        [score({"type": "exact"}, Facts(output=3, reference=2)).as_json()],
    ]
    rates = pass_rates(runs)
    assert rates["exact"] == {"pass_rate": 0.5, "mean": 0.5, "count": 4.0}
    assert failed_thresholds(rates, {"exact": 0.5}) == []
    assert failed_thresholds(rates, {"exact": 0.9}) == [
        {"scorer": "exact", "pass_rate": 0.5, "threshold": 0.9}
    ]
    # A threshold on a scorer with no verdicts is not met: nothing passed it.
    assert failed_thresholds(rates, {"judge": 0.1})[0]["pass_rate"] == 0.0


def test_diff_of_objects_names_fields_and_of_text_gives_lines() -> None:
    assert diff({"a": 1}, {"a": 1}) == {"equal": True}
    assert diff({"a": 1, "b": 2}, {"a": 1, "b": 3})["fields"] == [
        {"field": "b", "output": 2, "reference": 3}
    ]
    lines = diff("one\ntwo\n", "one\nthree\n")["lines"]
    assert "-three" in lines and "+two" in lines


def test_a_scorer_is_named_by_its_name_else_its_type() -> None:
    assert scorer_name({"type": "exact"}) == "exact"
    assert scorer_name({"type": "exact", "name": "same"}) == "same"
