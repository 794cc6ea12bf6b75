"""The intent planner: offline plans from words, plans from a model, and step references."""

import json
from typing import Any

import pytest

from examples import tools as example_tools
from runplane.agents.planner import plan_offline
from runplane.agents.plans import (
    llm_messages,
    plan_from_llm,
    render_text,
    resolve_refs,
    step_refs,
)
from runplane.agents.tools import TOOL_ATTR, tool
from runplane.domain.errors import RunError

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only

EXAMPLE_TOOLS = [
    getattr(fn, TOOL_ATTR).public()
    for fn in (
        example_tools.list_events,
        example_tools.create_event,
        example_tools.read_notes,
        example_tools.add_note,
        example_tools.send_email,
    )
]


def schema_of(name: str) -> dict[str, Any]:
    return next(t["parameters"] for t in EXAMPLE_TOOLS if t["name"] == name)


def calls(plan: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(step["tool"], step["arguments"]) for step in plan["steps"]]


# -- the offline planner ---------------------------------------------------------------


def test_the_demo_intent_reads_the_notes_then_emails_them_to_the_team():
    plan = plan_offline("email the team the notes from Monday", {}, EXAMPLE_TOOLS)

    assert plan["intent"] == "email the team the notes from Monday"
    assert plan["planner"] == "offline"
    assert calls(plan) == [
        ("read_notes", {"day": "Monday"}),
        (
            "send_email",
            {"to": "team", "subject": "Notes from Monday", "body": {"$ref": "steps.1.output"}},
        ),
    ]
    assert [step["number"] for step in plan["steps"]] == [1, 2]
    assert all(step["why"] for step in plan["steps"])
    assert not any("missing" in step for step in plan["steps"])


def test_the_plan_does_not_depend_on_the_order_the_tools_are_listed_in():
    forward = plan_offline("email the team the notes from Monday", {}, EXAMPLE_TOOLS)
    backward = plan_offline("email the team the notes from Monday", {}, EXAMPLE_TOOLS[::-1])

    assert calls(forward) == calls(backward)


def test_a_question_about_a_day_reads_without_writing():
    plan = plan_offline("What's on my calendar on Friday?", {}, EXAMPLE_TOOLS)

    assert calls(plan) == [("list_events", {"day": "Friday"})]


def test_a_write_verb_picks_the_write_tool_of_an_integration_with_its_day_and_time():
    plan = plan_offline("Schedule a meeting with Bob on Tuesday at 3pm", {}, EXAMPLE_TOOLS)

    assert calls(plan) == [
        ("create_event", {"title": "Meeting with Bob", "day": "Tuesday", "time": "15:00"})
    ]


def test_text_after_a_colon_is_the_content_to_write_not_words_to_match():
    # "call" after the colon must not pull in the calendar.
    plan = plan_offline("add a note for Friday: call the plumber", {}, EXAMPLE_TOOLS)

    assert calls(plan) == [("add_note", {"text": "call the plumber", "day": "Friday"})]


def test_an_email_address_is_the_recipient_and_stays_out_of_the_subject():
    plan = plan_offline("Email the notes from Monday to bob@example.com", {}, EXAMPLE_TOOLS)

    assert calls(plan)[1] == (
        "send_email",
        {
            "to": "bob@example.com",
            "subject": "Notes from Monday",
            "body": {"$ref": "steps.1.output"},
        },
    )


def test_telling_someone_about_events_lists_them_then_emails_that_person():
    plan = plan_offline("tell Ana about Monday's events", {}, EXAMPLE_TOOLS)

    assert [tool for tool, _ in calls(plan)] == ["list_events", "send_email"]
    assert calls(plan)[0][1] == {"day": "Monday"}
    assert calls(plan)[1][1]["to"] == "Ana"
    assert calls(plan)[1][1]["body"] == {"$ref": "steps.1.output"}


def test_a_tool_that_is_not_allowed_is_never_planned():
    allowed = [t for t in EXAMPLE_TOOLS if t["integration"] != "email"]

    plan = plan_offline("email the team the notes from Monday", {}, allowed)

    assert calls(plan) == [("read_notes", {"day": "Monday"})]


def test_a_write_is_not_planned_unless_the_intent_asks_for_it():
    only_writes = [t for t in EXAMPLE_TOOLS if t["name"] in ("add_note", "create_event")]

    plan = plan_offline("the notes and events from Monday", {}, only_writes)

    assert plan["steps"] == []


def test_an_intent_that_matches_no_tool_gives_an_empty_plan():
    plan = plan_offline("make me a sandwich", {}, EXAMPLE_TOOLS)

    assert plan["steps"] == []


def test_a_context_key_named_like_a_parameter_wins_over_the_intent():
    context = {"to": "team@example.com", "day": "Tuesday"}

    plan = plan_offline("email the team the notes from Monday", context, EXAMPLE_TOOLS)

    assert calls(plan)[0] == ("read_notes", {"day": "Tuesday"})
    assert calls(plan)[1][1]["to"] == "team@example.com"


def test_relative_days_become_dates_when_the_context_says_what_today_is():
    plan = plan_offline("read my notes from tomorrow", {"today": "2024-05-06"}, EXAMPLE_TOOLS)

    assert calls(plan) == [("read_notes", {"day": "2024-05-07"})]


def test_a_recipient_the_intent_does_not_name_is_missing_rather_than_invented():
    plan = plan_offline("email the notes from Monday", {}, EXAMPLE_TOOLS)

    email = plan["steps"][1]
    assert email["tool"] == "send_email"
    assert email["missing"] == ["to"]
    assert "to" not in email["arguments"]


def test_a_required_string_the_intent_does_not_spell_out_gets_the_intent_itself():
    @tool(description="Look up an order's status.")
    def find_order(order_ref: str) -> dict[str, Any]:
        return {}

    plan = plan_offline("find my last order", {}, [getattr(find_order, TOOL_ATTR).public()])

    assert calls(plan) == [("find_order", {"order_ref": "find my last order"})]


def test_a_required_non_string_the_intent_does_not_give_is_listed_as_missing():
    @tool(integration="shop", description="Find orders.")
    def find_orders(customer_id: int, limit: int = 10) -> list[dict[str, Any]]:
        return []

    plan = plan_offline("find orders", {}, [getattr(find_orders, TOOL_ATTR).public()])

    assert plan["steps"][0]["arguments"] == {}
    assert plan["steps"][0]["missing"] == ["customer_id"]


def test_the_planner_is_deterministic():
    first = plan_offline("tell Ana about Monday's events", {}, EXAMPLE_TOOLS)
    second = plan_offline("tell Ana about Monday's events", {}, EXAMPLE_TOOLS)

    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


# -- references between steps ----------------------------------------------------------


NOTES = [
    {"id": "rec_1", "day": "Monday", "text": "Ship the billing fix."},
    {"id": "rec_2", "day": "Monday", "text": "Ana is on call."},
]


def test_a_reference_to_a_string_parameter_renders_a_list_as_bullet_lines():
    arguments = {"to": "team", "subject": "Notes", "body": {"$ref": "steps.1.output"}}

    resolved = resolve_refs(arguments, {1: NOTES}, schema_of("send_email"))

    assert resolved == {
        "to": "team",
        "subject": "Notes",
        "body": "- Ship the billing fix.\n- Ana is on call.",
    }


def test_without_a_schema_a_reference_is_replaced_by_the_output_itself():
    resolved = resolve_refs({"items": {"$ref": "steps.1.output"}}, {1: NOTES})

    assert resolved == {"items": NOTES}


def test_references_nested_in_lists_and_objects_are_resolved():
    arguments = {"batch": [{"first": {"$ref": "steps.1.output"}}, {"$ref": "steps.2.output"}]}

    resolved = resolve_refs(arguments, {1: "a", 2: [1, 2]})

    assert resolved == {"batch": [{"first": "a"}, [1, 2]]}
    assert step_refs(arguments) == [1, 2]


def test_a_reference_to_a_step_without_output_is_an_invalid_plan():
    with pytest.raises(RunError) as caught:
        resolve_refs({"body": {"$ref": "steps.3.output"}}, {1: "x"})

    assert caught.value.code == "invalid_plan"


def test_render_text_shows_events_with_their_time_and_empty_results_as_none():
    events = [{"id": "e1", "day": "Monday", "time": "09:30", "title": "Team standup"}]

    assert render_text(events) == "- 09:30 Team standup"
    assert render_text([]) == "(none)"
    assert render_text({"count": 2, "names": ["a", "b"]}) == "count: 2\nnames:\n  - a\n  - b"


# -- plans from a model ----------------------------------------------------------------


def test_a_models_plan_is_parsed_and_numbered():
    reply = json.dumps(
        {
            "steps": [
                {"tool": "read_notes", "arguments": {"day": "Monday"}, "why": "get them"},
                {
                    "number": 2,
                    "tool": "send_email",
                    "arguments": {"to": "team", "subject": "x", "body": {"$ref": "steps.1.output"}},
                },
            ]
        }
    )

    plan = plan_from_llm(reply, EXAMPLE_TOOLS)

    assert plan["planner"] == "llm"
    assert [(s["number"], s["tool"]) for s in plan["steps"]] == [
        (1, "read_notes"),
        (2, "send_email"),
    ]
    assert plan["steps"][0]["why"] == "get them"
    assert plan["steps"][1]["why"] == ""


def test_a_models_plan_in_a_code_fence_is_accepted():
    reply = '```json\n{"steps": [{"tool": "list_events", "arguments": {"day": "Friday"}}]}\n```'

    assert plan_from_llm(reply, EXAMPLE_TOOLS)["steps"][0]["arguments"] == {"day": "Friday"}


@pytest.mark.parametrize(
    ("reply", "complaint"),
    [
        ("this is not json", "not JSON"),
        ('{"plan": []}', "no list of steps"),
        ('{"steps": [{"tool": "delete_everything", "arguments": {}}]}', "delete_everything"),
        ('{"steps": [{"tool": "read_notes", "arguments": "Monday"}]}', "arguments must be"),
        ('{"steps": [{"tool": "read_notes", "arguments": {}, "number": 4}]}', "numbered 4"),
        (
            '{"steps": [{"tool": "read_notes", "arguments": {"day": {"$ref": "steps.1.output"}}}]}',
            "not an earlier step",
        ),
    ],
)
def test_a_bad_plan_from_a_model_is_an_invalid_plan_error(reply: str, complaint: str):
    with pytest.raises(RunError) as caught:
        plan_from_llm(reply, EXAMPLE_TOOLS)

    assert caught.value.code == "invalid_plan"
    assert complaint in caught.value.message


def test_the_prompt_lists_every_allowed_tool_with_its_schema_and_the_request():
    messages = llm_messages("email the team", {"team": "eng"}, EXAMPLE_TOOLS)

    assert [m["role"] for m in messages] == ["system", "user"]
    for spec in EXAMPLE_TOOLS:
        assert f'"name": "{spec["name"]}"' in messages[0]["content"]
    assert '"required": [\n' in messages[0]["content"]
    assert "steps.N.output" in messages[0]["content"]
    assert messages[1]["content"] == 'Request: email the team\nContext: {"team": "eng"}'
