"""Approval rules, rate limits and the token bucket: pure rules, no I/O.

A rule asks for approval of a tool call: ``{"tool": "send_email"}`` for every call,
``{"tool": "pay", "when": "amount > 500"}`` when a condition on an argument holds.
A condition is ``ARGUMENT OP VALUE`` with OP one of ``> >= < <= == != in``; VALUE is
JSON (a number, a quoted string, true/false/null, a list for ``in``).
"""

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NotRequired, TypedDict, cast

from runplane.domain.errors import Invalid
from runplane.domain.json import JSON, JSONObject

_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|==|!=|>|<|in)\s*(.+?)\s*$")
_PERIODS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
DEFAULT_ACTIONS = ("approve", "reject", "cancel")


class ApprovalRule(TypedDict):
    """Ask for approval of calls to ``tool`` (``*``: any), when the condition holds if given."""

    tool: str
    when: NotRequired[str | None]


@dataclass(frozen=True)
class Condition:
    """``argument op value``, checked against a tool call's arguments."""

    argument: str
    op: str
    value: JSON

    def holds(self, arguments: Mapping[str, JSON]) -> bool:
        """Tell whether the arguments meet the condition (a missing argument never does)."""
        actual: object = arguments
        for part in self.argument.split("."):
            if not isinstance(actual, Mapping) or part not in actual:
                return False
            actual = actual[part]
        try:
            if self.op == "in":
                return isinstance(self.value, list) and actual in self.value
            return bool(
                {
                    ">": lambda a, b: a > b,
                    ">=": lambda a, b: a >= b,
                    "<": lambda a, b: a < b,
                    "<=": lambda a, b: a <= b,
                    "==": lambda a, b: a == b,
                    "!=": lambda a, b: a != b,
                }[self.op](actual, self.value)
            )
        except TypeError:
            return False


def parse_condition(text: str) -> Condition:
    """Read ``amount > 500``; ``Invalid`` if it is not of that form."""
    match = _CONDITION.match(text)
    if match is None:
        raise Invalid.field("approval_rules.when", f"cannot read condition {text!r}", text)
    argument, op, raw = match.groups()
    try:
        value = json.loads(raw)
    except ValueError:
        raise Invalid.field(
            "approval_rules.when", f"the value in {text!r} must be JSON (quote strings)", text
        ) from None
    if op == "in" and not isinstance(value, list):
        raise Invalid.field("approval_rules.when", "'in' needs a JSON list", text)
    return Condition(argument, op, value)


def check_rules(rules: list[JSONObject]) -> list[ApprovalRule]:
    """Validate approval rules as given by an agent or a run; return them unchanged."""
    for i, rule in enumerate(rules):
        if not isinstance(rule, Mapping) or not isinstance(rule.get("tool"), str):
            raise Invalid.field(f"approval_rules.{i}.tool", "each rule names a tool", rule)
        if rule.get("when") is not None:
            parse_condition(str(rule["when"]))
    return cast(list[ApprovalRule], rules)


def matching_rule(
    rules: Sequence[ApprovalRule], tool: str, arguments: Mapping[str, JSON]
) -> ApprovalRule | None:
    """The first rule that asks for approval of this call, if any."""
    for rule in rules:
        if rule.get("tool") not in (tool, "*"):
            continue
        when = rule.get("when")
        if when is None or parse_condition(str(when)).holds(arguments):
            return rule
    return None


@dataclass(frozen=True)
class RateLimit:
    """``count`` calls per ``seconds``, as a token bucket of that capacity."""

    count: int
    seconds: float
    text: str

    @property
    def per_second(self) -> float:
        """How fast the bucket refills."""
        return self.count / self.seconds


def parse_rate_limit(text: str) -> RateLimit:
    """Read ``"10/minute"`` (periods: s, m, h, d, or a number of seconds such as 10s)."""
    match = re.match(r"^\s*(\d+)\s*/\s*(\d+\.?\d*|\.\d+)?\s*([a-z]*)\s*$", text or "")
    if match is None:
        raise Invalid.field("rate_limit", f"cannot read rate limit {text!r}", text)
    count, number, unit = match.groups()
    # A plural ("minutes") names the same period; "s" and "ms" are not plurals.
    unit = unit[:-1] if unit.endswith("s") and unit[:-1] in _PERIODS and len(unit) > 2 else unit
    if unit and unit not in _PERIODS:
        raise Invalid.field("rate_limit", f"unknown period {unit!r} in {text!r}", text)
    seconds = (float(number) if number else 1.0) * _PERIODS.get(unit or "s", 1)
    if int(count) < 1 or seconds <= 0:
        raise Invalid.field("rate_limit", f"rate limit {text!r} must be positive", text)
    return RateLimit(int(count), seconds, text)


def take_token(limit: RateLimit, tokens: float | None, elapsed: float) -> tuple[bool, float, float]:
    """One draw from a bucket last seen holding ``tokens``, ``elapsed`` seconds ago.

    Returns (granted, tokens left, seconds to wait before trying again). A new bucket
    (``tokens`` None) starts full.
    """
    level = limit.count if tokens is None else min(limit.count, tokens + elapsed * limit.per_second)
    if level >= 1:
        return True, level - 1, 0.0
    return False, level, math.ceil((1 - level) / limit.per_second * 1000) / 1000
