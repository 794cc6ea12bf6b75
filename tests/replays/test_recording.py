"""A replay's recording: tool calls paired with their results, each answered once."""

from datetime import UTC, datetime

import pytest

from runplane.domain.json import JSONObject
from runplane.domain.models import EventRecord
from runplane.engine.recording import Recording, recorded_calls

pytestmark = pytest.mark.database_independent


def event(seq: int, type_: str, data: JSONObject) -> EventRecord:
    return {  # type: ignore[typeddict-item]
        "run_id": "run_1",
        "seq": seq,
        "type": type_,
        "at": datetime(2026, 1, 1, tzinfo=UTC),
        "data": data,
    }


def call(seq: int, name: str, **arguments: object) -> EventRecord:
    return event(seq, "tool_call", {"name": name, "arguments": dict(arguments)})


def result(seq: int, name: str, output: object = None, **extra: object) -> EventRecord:
    return event(seq, "tool_result", {"name": name, "ok": True, "output": output, **extra})


def test_calls_pair_with_the_results_that_follow_them_by_name() -> None:
    found = recorded_calls(
        [
            call(1, "search", q="a"),
            call(2, "read", day="Mon"),
            result(3, "read", ["note"]),
            result(4, "search", [1, 2]),
            call(5, "send", to="x"),  # never answered: the run stopped in it
        ]
    )
    assert [(c.name, c.arguments, c.output) for c in found] == [
        ("search", {"q": "a"}, [1, 2]),
        ("read", {"day": "Mon"}, ["note"]),
    ]


def test_each_recorded_call_answers_once_in_order_whatever_the_key_order() -> None:
    recording = Recording(
        "run_1",
        recorded_calls(
            [
                call(1, "add", text="a", day="Mon"),
                result(2, "add", {"id": 1}),
                call(3, "add", text="a", day="Mon"),
                result(4, "add", {"id": 2}),
            ]
        ),
    )
    first = recording.take("add", {"day": "Mon", "text": "a"})
    second = recording.take("add", {"text": "a", "day": "Mon"})
    assert first is not None and first.output == {"id": 1}
    assert second is not None and second.output == {"id": 2}
    assert recording.take("add", {"text": "a", "day": "Mon"}) is None
    assert "only 2 times" in recording.why_not("add", {"text": "a", "day": "Mon"})
    assert "other arguments" in recording.why_not("add", {"text": "b", "day": "Mon"})
    assert "never called send" in recording.why_not("send", {})


def test_recorded_failures_replay_as_the_same_tool_errors() -> None:
    failed, refused, own = recorded_calls(
        [
            call(1, "add", day="x"),
            event(
                2,
                "tool_result",
                {
                    "name": "add",
                    "ok": False,
                    "output": None,
                    "error": "ValueError: bad day",
                    "code": "tool_failed",
                },
            ),
            call(3, "send"),
            event(
                4, "tool_result", {"name": "send", "ok": False, "output": None, "rejected": True}
            ),
            call(5, "pay"),
            event(
                6,
                "tool_result",
                {
                    "name": "pay",
                    "ok": False,
                    "output": None,
                    "error": "ToolError: card declined",
                    "code": "declined",
                },
            ),
        ]
    )
    assert (failed.failure().code, failed.failure().message) == (
        "tool_failed",
        "add failed: ValueError: bad day",
    )
    assert refused.failure().code == "tool_rejected"
    assert (own.failure().code, own.failure().message) == ("declined", "card declined")
