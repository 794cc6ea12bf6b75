"""Approval rules, rate limits and the token bucket: read and applied without ``eval``."""

from typing import Any

import pytest

from runplane.domain.errors import Invalid
from runplane.domain.policy import (
    Condition,
    RateLimit,
    Unchecked,
    check_rules,
    matching_rule,
    parse_condition,
    parse_rate_limit,
    take_token,
)

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only

# -- conditions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "argument", "op", "value"),
    [
        ("amount > 500", "amount", ">", 500),
        ("amount>=1.5e3", "amount", ">=", 1500.0),
        ("  amount <  -2  ", "amount", "<", -2),
        ("amount <= 0.5", "amount", "<=", 0.5),
        ('to == "boss@example.com"', "to", "==", "boss@example.com"),
        ("urgent != true", "urgent", "!=", True),
        ("cc == null", "cc", "==", None),
        ('order.country in ["FR", "DE"]', "order.country", "in", ["FR", "DE"]),
        ("items == [1, 2]", "items", "==", [1, 2]),
        ("_x2 in []", "_x2", "in", []),
    ],
)
def test_a_condition_is_an_argument_an_operator_and_a_json_value(
    text: str, argument: str, op: str, value: Any
) -> None:
    assert parse_condition(text) == Condition(argument, op, value)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("amount", "cannot read condition"),
        ("amount = 5", "cannot read condition"),
        ("1amount > 5", "cannot read condition"),
        ("> 5", "cannot read condition"),
        ("amount >", "cannot read condition"),
        ('__import__("os").system("true") == 0', "cannot read condition"),
        ("amount > __import__('os')", "must be JSON"),
        ("to == boss", "must be JSON"),
        ("amount > 5 or True", "must be JSON"),
        ("to in 5", "'in' needs a JSON list"),
        ('to in "abc"', "'in' needs a JSON list"),
    ],
)
def test_anything_else_is_invalid_and_never_evaluated(text: str, says: str) -> None:
    with pytest.raises(Invalid) as refused:
        parse_condition(text)
    assert says in refused.value.message
    assert refused.value.status == 422
    assert refused.value.details == [{"name": "approval_rules.when", "value": text}]


@pytest.mark.parametrize(
    ("text", "arguments", "holds"),
    [
        ("amount > 500", {"amount": 501}, True),
        ("amount > 500", {"amount": 500}, False),
        ("amount >= 500", {"amount": 500}, True),
        ("amount < 500", {"amount": 499.5}, True),
        ("amount <= 500", {"amount": 501}, False),
        ('to == "a@x"', {"to": "a@x"}, True),
        ('to != "a@x"', {"to": "a@x"}, False),
        ("cc == null", {"cc": None}, True),
        ('country in ["FR", "DE"]', {"country": "DE"}, True),
        ('country in ["FR", "DE"]', {"country": "US"}, False),
        ("order.total > 100", {"order": {"total": 150}}, True),
        ("order.total > 100", {"order": {"total": 50}}, False),
        ("cc != null", {"cc": "x"}, True),
        ("cc == null", {"cc": 5}, False),
        ("items == [1, 2]", {"items": [1, 2]}, True),
        ('name > "m"', {"name": "z"}, True),
        ("tags in []", {"tags": 5}, False),
    ],
)
def test_a_condition_holds_for_arguments(text: str, arguments: dict[str, Any], holds: bool) -> None:
    assert parse_condition(text).holds(arguments) is holds


@pytest.mark.parametrize(
    ("text", "arguments", "why"),
    [
        # A missing argument cannot be checked, not even against a negative condition.
        ("amount > 500", {}, "'amount' is missing"),
        ('to != "a@x"', {}, "'to' is missing"),
        ("cc == null", {}, "'cc' is missing"),
        ("order.total > 100", {"order": 150}, "'order.total' is missing"),
        ("order.total > 100", {"order": {}}, "'order.total' is missing"),
        # Nor can values of another JSON type than the condition's.
        ("amount > 500", {"amount": "600"}, "'amount' is a string, not a number"),
        ("amount > 500", {"amount": None}, "'amount' is a null, not a number"),
        ("amount == 500", {"amount": "500"}, "'amount' is a string, not a number"),
        ("amount != 500", {"amount": "500"}, "'amount' is a string, not a number"),
        ("urgent == true", {"urgent": 1}, "'urgent' is a number, not a boolean"),
        ("amount > 500", {"amount": True}, "'amount' is a boolean, not a number"),
        ("tags in [1]", {"tags": {"unhashable": []}}, "'tags' is a object, the list holds number"),
        ('country in ["FR"]', {"country": 33}, "'country' is a number, the list holds string"),
        ("items > [1]", {"items": [2]}, "'items' is a list, which has no order"),
    ],
)
def test_a_condition_that_cannot_be_checked_says_why(
    text: str, arguments: dict[str, Any], why: str
) -> None:
    with pytest.raises(Unchecked) as unchecked:
        parse_condition(text).holds(arguments)
    assert why in unchecked.value.why


def test_an_unknown_operator_cannot_be_checked() -> None:
    with pytest.raises(Unchecked, match="unknown operator"):
        Condition("amount", "=~", 5).holds({"amount": 5})


# -- rules -----------------------------------------------------------------------------


def test_valid_rules_come_back_unchanged() -> None:
    rules = [{"tool": "send_email"}, {"tool": "pay", "when": "amount > 500"}, {"tool": "*"}]
    assert check_rules(rules) is rules
    assert check_rules([{"tool": "pay", "when": None}]) == [{"tool": "pay", "when": None}]
    assert check_rules([]) == []


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        (["send_email"], "approval_rules.0.tool"),
        ([{"tool": "ok"}, {}], "approval_rules.1.tool"),
        ([{"tool": 5}], "approval_rules.0.tool"),
        ([{"name": "pay"}], "approval_rules.0.tool"),
        ([{"tool": "pay", "when": "amount >> 5"}], "approval_rules.when"),
        ([{"tool": "pay", "when": "amount > lots"}], "approval_rules.when"),
    ],
)
def test_bad_rules_are_invalid_naming_the_field(rules: list[Any], field: str) -> None:
    with pytest.raises(Invalid) as refused:
        check_rules(rules)
    assert refused.value.details[0]["name"] == field


def test_the_first_rule_that_asks_wins() -> None:
    rules = [
        {"tool": "pay", "when": "amount > 1000", "id": "big"},
        {"tool": "pay", "when": 'currency == "BTC"', "id": "crypto"},
        {"tool": "*", "when": "dry_run == false", "id": "any-real"},
        {"tool": "send_email", "id": "every-email"},
    ]

    def asks(tool: str, arguments: dict[str, Any]) -> str | None:
        match = matching_rule(rules, tool, arguments)
        return None if match is None else str(match.rule["id"])

    assert asks("pay", {"amount": 5000, "currency": "BTC"}) == "big"
    assert asks("pay", {"amount": 5, "currency": "BTC"}) == "crypto"
    assert asks("pay", {"amount": 5, "currency": "EUR", "dry_run": False}) == "any-real"
    assert asks("send_email", {"dry_run": True}) == "every-email"
    assert asks("pay", {"amount": 5, "currency": "EUR", "dry_run": True}) is None
    assert asks("search", {"dry_run": True}) is None
    assert matching_rule([], "pay", {"amount": 10**9}) is None


def test_a_rule_that_holds_wins_over_one_that_cannot_be_checked() -> None:
    rules = [
        {"tool": "pay", "when": 'currency == "BTC"', "id": "crypto"},
        {"tool": "pay", "when": "amount > 1000", "id": "big"},
    ]
    match = matching_rule(rules, "pay", {"amount": 5000})
    assert match is not None and match.rule["id"] == "big" and match.unchecked is None
    assert match.reason == "approval rule: pay when amount > 1000"


@pytest.mark.parametrize(
    ("arguments", "why"),
    [
        ({}, "the argument 'amount' is missing"),
        ({"amount": "600"}, "'amount' is a string, not a number like 500"),
        ({"amount": None}, "'amount' is a null, not a number like 500"),
    ],
)
def test_rules_fail_closed_and_the_request_says_why(arguments: dict[str, Any], why: str) -> None:
    match = matching_rule([{"tool": "pay", "when": "amount > 500"}], "pay", arguments)
    assert match is not None and match.unchecked == why
    assert match.reason == (
        f"approval rule: pay when amount > 500 could not be checked ({why}), so a person decides"
    )


def test_a_stored_rule_that_cannot_be_read_fails_closed() -> None:
    # Rules are checked when given; one stored before a stricter reader still asks.
    match = matching_rule([{"tool": "pay", "when": "amount ~ 5"}], "pay", {"amount": 1})
    assert match is not None and "cannot read condition" in (match.unchecked or "")


# -- rate limits -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count", "seconds"),
    [
        ("10/minute", 10, 60),
        ("10/minutes", 10, 60),
        ("10/min", 10, 60),
        ("10/m", 10, 60),
        ("5/s", 5, 1),
        ("5/sec", 5, 1),
        ("5/second", 5, 1),
        ("5/seconds", 5, 1),
        ("100/h", 100, 3600),
        ("100/hour", 100, 3600),
        ("1000/d", 1000, 86400),
        ("1000/day", 1000, 86400),
        ("3/10s", 3, 10),
        ("3/2m", 3, 120),
        ("1/0.5s", 1, 0.5),
        ("2/1.5h", 2, 5400),
        (" 3 / 7 s ", 3, 7),
        ("5/", 5, 1),  # no period: per second
    ],
)
def test_a_rate_limit_reads_count_per_period(text: str, count: int, seconds: float) -> None:
    limit = parse_rate_limit(text)
    assert limit == RateLimit(count, seconds, text)
    assert limit.per_second == count / seconds


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "cannot read"),
        ("10", "cannot read"),
        ("ten/minute", "cannot read"),
        ("-1/m", "cannot read"),
        ("5/-1m", "cannot read"),
        ("5/Minute", "cannot read"),
        ("5/fortnight", "unknown period"),
        ("5/week", "unknown period"),
        ("0/minute", "must be positive"),
        ("5/0s", "must be positive"),
    ],
)
def test_a_bad_rate_limit_is_invalid(text: str, says: str) -> None:
    with pytest.raises(Invalid) as refused:
        parse_rate_limit(text)
    assert says in refused.value.message
    assert refused.value.details == [{"name": "rate_limit", "value": text}]


def test_a_period_of_only_a_dot_is_invalid() -> None:
    with pytest.raises(Invalid):
        parse_rate_limit("5/.")


def test_milliseconds_are_not_read_as_minutes() -> None:
    with pytest.raises(Invalid):
        parse_rate_limit("5/ms")


# -- the token bucket ------------------------------------------------------------------


def test_a_new_bucket_starts_full_and_grants_count_draws_at_once() -> None:
    limit = parse_rate_limit("3/minute")
    tokens: float | None = None
    for left in (2, 1, 0):
        granted, tokens, wait = take_token(limit, tokens, 0.0)
        assert (granted, tokens, wait) == (True, left, 0.0)
    granted, tokens, wait = take_token(limit, tokens, 0.0)
    assert (granted, tokens, wait) == (False, 0, 20.0)  # one token comes back every 20 s


def test_the_bucket_refills_with_time_up_to_its_capacity() -> None:
    limit = parse_rate_limit("10/minute")  # a token per 6 s
    assert take_token(limit, 0.0, 3.0) == (False, 0.5, 3.0)
    assert take_token(limit, 0.0, 6.0) == (True, 0.0, 0.0)
    assert take_token(limit, 0.0, 30.0) == (True, 4.0, 0.0)
    assert take_token(limit, 2.0, 3600.0) == (True, 9.0, 0.0)  # capped at 10, then one drawn
    assert take_token(limit, 25.0, 0.0) == (True, 9.0, 0.0)  # never above capacity


def test_a_refusal_does_not_spend_and_its_wait_is_rounded_up_to_the_millisecond() -> None:
    limit = parse_rate_limit("3/7s")
    granted, left, wait = take_token(limit, 0.0, 0.0)
    assert (granted, left, wait) == (False, 0.0, 2.334)  # 7/3 s, rounded up


@pytest.mark.parametrize("text", ["3/7s", "10/minute", "1/s", "7/3h", "100/s"])
@pytest.mark.parametrize("level", [0.0, 0.1, 0.25, 0.5, 0.9, 0.999])
def test_waiting_the_wait_it_gives_is_enough_and_at_most_a_millisecond_more(
    text: str, level: float
) -> None:
    limit = parse_rate_limit(text)
    granted, left, wait = take_token(limit, level, 0.0)
    assert not granted and left == level
    needed = (1 - level) / limit.per_second
    assert needed <= wait <= needed + 0.001 + 1e-9
    assert take_token(limit, level, wait)[0]
