"""Approval rules, rate limits and the token bucket: pure rules, no I/O.

A rule asks for approval of a tool call: ``{"tool": "send_email"}`` for every call,
``{"tool": "pay", "when": "amount > 500"}`` when a condition on an argument holds.
A condition is ``ARGUMENT OP VALUE`` with OP one of ``> >= < <= == != in``; VALUE is
JSON (a number, a quoted string, true/false/null, a list for ``in``). Rules fail
closed: a condition that cannot be checked (the argument is missing, or of another JSON
type than the value) asks for approval, and the request says why.
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


class Unchecked(Exception):  # noqa: N818 - an outcome of a check, not a failure of ours
    """A condition could not be checked against a call's arguments (missing, mistyped…)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _kind(value: object) -> str:
    """The JSON type of a value: what a condition's two sides must share to be compared."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "object"


_COMPARE = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


@dataclass(frozen=True)
class Condition:
    """``argument op value``, checked against a tool call's arguments."""

    argument: str
    op: str
    value: JSON

    def holds(self, arguments: Mapping[str, JSON]) -> bool:
        """Tell whether the arguments meet the condition.

        Raises ``Unchecked`` when they cannot tell: the argument is missing, or its JSON
        type is not the value's (``amount > 500`` with ``amount`` a string), so that the
        rule fails closed (a person decides) instead of silently asking nothing.
        """
        actual: object = arguments
        for part in self.argument.split("."):
            if not isinstance(actual, Mapping) or part not in actual:
                raise Unchecked(f"the argument {self.argument!r} is missing")
            actual = actual[part]
        kind = _kind(actual)
        if self.op == "in":
            if not isinstance(self.value, list):
                raise Unchecked(f"'in' needs a list, not {_kind(self.value)}")
            kinds = {_kind(v) for v in self.value}
            if kinds and kind not in kinds:
                raise Unchecked(f"{self.argument!r} is a {kind}, the list holds {_names(kinds)}")
            return actual in self.value
        compare = _COMPARE.get(self.op)
        if compare is None:
            raise Unchecked(f"unknown operator {self.op!r}")
        # ``x == null`` and ``x != null`` ask whether a value was given: any type compares.
        nullable = self.op in ("==", "!=") and self.value is None
        if not nullable and kind != _kind(self.value):
            raise Unchecked(
                f"{self.argument!r} is a {kind}, not a {_kind(self.value)} like {self.value!r}"
            )
        if self.op not in ("==", "!=") and kind not in ("number", "string"):
            raise Unchecked(f"{self.argument!r} is a {kind}, which has no order")
        return bool(compare(actual, self.value))


def _names(kinds: set[str]) -> str:
    return " or ".join(sorted(kinds))


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


@dataclass(frozen=True)
class RuleMatch:
    """A rule that asks for approval of a call; ``unchecked`` says why it could not be checked."""

    rule: ApprovalRule
    unchecked: str | None = None

    @property
    def reason(self) -> str:
        """What the approval request tells the person deciding."""
        when = self.rule.get("when")
        text = f"approval rule: {self.rule.get('tool')}" + (f" when {when}" if when else "")
        if self.unchecked is not None:
            text += f" could not be checked ({self.unchecked}), so a person decides"
        return text


def matching_rule(
    rules: Sequence[ApprovalRule], tool: str, arguments: Mapping[str, JSON]
) -> RuleMatch | None:
    """The rule that asks for approval of this call, if any: rules fail closed.

    The first rule whose condition holds wins; else the first whose condition cannot be
    checked (a missing or mistyped argument, a condition that cannot be read), since a
    rule that cannot tell must not let the call through unasked.
    """
    unchecked: RuleMatch | None = None
    for rule in rules:
        if rule.get("tool") not in (tool, "*"):
            continue
        when = rule.get("when")
        if when is None:
            return RuleMatch(rule)
        try:
            if parse_condition(str(when)).holds(arguments):
                return RuleMatch(rule)
        except Unchecked as exc:
            unchecked = unchecked or RuleMatch(rule, exc.why)
        except Invalid as exc:
            unchecked = unchecked or RuleMatch(rule, exc.message)
    return unchecked


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
