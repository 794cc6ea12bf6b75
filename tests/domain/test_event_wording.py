"""Event types: one table, a payload and a wording for each, and a fallback for the rest."""

import re
from pathlib import Path
from typing import Any

import pytest

from runplane.domain.events import EVENT_TYPES, EVENTS, describe_event, event_label

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only

SRC = Path(__file__).resolve().parents[2] / "src" / "runplane"

# A payload of each type, as the engine writes it.
SAMPLES: dict[str, dict[str, Any]] = {
    "status": {"status": "queued"},
    "takeover": {"executor": "worker-b", "previous": "worker-a", "epoch": 3},
    "planning": {"format": "text", "content": "Search, then write"},
    "reasoning": {"text": "The notes are short; one search will do."},
    "step.started": {"number": 1, "name": "search"},
    "message.delta": {"step": 2, "index": 0, "text": "The notes say "},
    "budget.exceeded": {
        "scope": "run",
        "unit": "credits",
        "limit": 5.0,
        "used": 4.5,
        "needs": 0.9,
        "step": "draft",
    },
    "steps.prepared": {
        "step": "draft",
        "model": "gpt-4o-mini",
        "reasoning_effort": "high",
        "default": {"model": "gpt-4o-mini", "reasoning_effort": "low"},
        "overridden": True,
        "tools": ["search_corpus"],
        "instructions": "Write the report",
    },
    "step.completed": {"number": 1, "name": "search", "output": {"hits": 2}},
    "step.failed": {
        "number": 2,
        "name": "read",
        "error": {"code": "agent_error", "message": "OSError: gone", "step": 2, "retryable": False},
    },
    "tool_call": {
        "name": "add_note",
        "integration": "notes",
        "arguments": {"day": "Monday"},
        "step": 1,
    },
    "tool_result": {"name": "add_note", "ok": True, "output": {"id": 7}, "duration_ms": 12.4},
    "approval.required": {
        "approval_id": "apr_1",
        "kind": "tool_call",
        "request": {"tool": "send_email", "arguments": {"to": "team"}, "reason": "always asks"},
        "link_expires_at": "2026-01-01T00:00:00Z",
        "expires_at": None,
        "default_action": None,
    },
    "approval.resolved": {
        "approval_id": "apr_1",
        "kind": "tool_call",
        "decision": "approve",
        "edited_arguments": None,
        "comment": "fine",
        "decided_by": "key:k1",
        "decided_at": "2026-01-01T00:00:00Z",
    },
    "auth.required": {
        "integration": "email",
        "user_id": "alice",
        "tool": "send_email",
        "connect": "PUT /v1/users/alice/connections/email",
    },
    "rate_limited": {"tool": "search", "key": "web", "limit": "2/s", "wait_seconds": 0.4166},
    "replay.divergence": {
        "name": "add_note",
        "arguments": {"day": "Monday"},
        "reason": "the recorded run made no such call",
    },
    "interrupt": {"interrupts": [{"value": "Proceed?", "id": "i1"}], "thread_id": "th_1"},
    "source": {"title": "Write-ahead logging", "url": "https://sqlite.org/wal.html"},
    "file.created": {
        "id": "fil_1",
        "name": "report.xlsx",
        "media_type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "size": 5120,
        "sha256": "ab" * 32,
        "step": 2,
    },
    "result": {"type": "json", "content": {"answer": 42}, "sources": []},
    "error": {"code": "example_failure", "message": "it always fails", "step": 1},
    "reconciled": {
        "found": "ended",
        "action": "restarted",
        "workflow": "run_1.1",
        "workflow_status": "ERROR",
    },
    "repaired": {
        "action": "resume",
        "reason": "worker host lost power",
        "liveness": "lost",
        "previous_owner": "host-all-1-ab12cd34",
        "by": "key_1",
    },
}


# How each event type reads, from the CLI and on the console alike.
WORDINGS: list[tuple[str, dict[str, Any], str]] = [
    ("status", {"status": "running"}, "Running"),
    ("takeover", SAMPLES["takeover"], "Taken over by worker-b from worker-a (epoch 3)"),
    (
        "takeover",
        {"executor": "worker-a", "previous": "worker-a", "epoch": 2},
        "Resumed by worker-a (epoch 2)",
    ),
    (
        "status",
        {"status": "paused", "waiting_on": {"approval": "tool:1", "approval_id": "apr_9"}},
        "Waiting for approval (apr_9)",
    ),
    (
        "status",
        {"status": "auth_required", "waiting_on": {"integration": "email", "user_id": "al"}},
        "Waiting for a connection to email for al",
    ),
    (
        "status",
        {"status": "running", "reason": "al connected email"},
        "Running (al connected email)",
    ),
    (
        "status",
        {"status": "paused", "waiting_on": {"interrupt": {"interrupts": []}}},
        "Paused at an interrupt",
    ),
    (
        "status",
        {
            "status": "canceled",
            "receipt": {"step": None, "reason": "the plan was rejected"},
        },
        "Canceled: the plan was rejected",
    ),
    ("status", {"status": "canceled", "receipt": {"step": 3}}, "Canceled at step 3"),
    (
        "status",
        {
            "status": "paused",
            "waiting_on": {"kind": "budget", "budget": SAMPLES["budget.exceeded"]},
        },
        "Waiting for budget: draft needs about 0.9 credits: the run's budget of 5.0 has 4.5 "
        "used; raise it or approve the overrun",
    ),
    (
        "repaired",
        SAMPLES["repaired"],
        "key_1 found the run lost and handed it back to the queue: worker host lost power",
    ),
    (
        "repaired",
        {**SAMPLES["repaired"], "action": "fail", "liveness": "stalled", "reason": "hung"},
        "key_1 found the run stalled and failed it: hung",
    ),
    ("step.started", SAMPLES["step.started"], "Step 1: search started"),
    ("message.delta", SAMPLES["message.delta"], "The notes say"),
    (
        "budget.exceeded",
        SAMPLES["budget.exceeded"],
        "draft needs about 0.9 credits: the run's budget of 5.0 has 4.5 used; "
        "raise it or approve the overrun",
    ),
    (
        "steps.prepared",
        SAMPLES["steps.prepared"],
        "draft: gpt-4o-mini, high effort (override of gpt-4o-mini, low effort); "
        "tools search_corpus",
    ),
    (
        "step.completed",
        {"number": 1, "name": "search", "output": 1, "reused_from": "run_a"},
        "Step 1: search completed (reused from run_a)",
    ),
    ("step.failed", SAMPLES["step.failed"], "Step 2: read failed: OSError: gone"),
    ("tool_call", SAMPLES["tool_call"], 'add_note({"day":"Monday"})'),
    ("tool_result", SAMPLES["tool_result"], 'add_note returned {"id":7} in 12 ms'),
    (
        "tool_result",
        {"name": "add_note", "ok": False, "output": None, "duration_ms": 1, "error": "E: x"},
        "add_note failed: E: x",
    ),
    (
        "tool_result",
        {"name": "add_note", "ok": False, "output": None, "duration_ms": 0, "rejected": True},
        "add_note was rejected",
    ),
    (
        "approval.required",
        SAMPLES["approval.required"],
        'Waiting for approval (apr_1) of send_email({"to":"team"})',
    ),
    (
        "approval.required",
        {"approval_id": "apr_2", "kind": "plan", "request": {"plan": {"content": "Do it"}}},
        "Waiting for approval (apr_2) of the plan: Do it",
    ),
    (
        "approval.required",
        {"approval_id": "apr_3", "kind": "in_doubt", "request": {"tool": "pay"}},
        "Waiting for a decision (apr_3) on the in-doubt call pay({}): repeat, skip or fail",
    ),
    ("approval.resolved", SAMPLES["approval.resolved"], "apr_1 approved by key:k1: fine"),
    (
        "approval.resolved",
        {"approval_id": "apr_1", "decision": "skip", "decided_by": "system:expiry"},
        "apr_1 settled (skip the call) by system:expiry",
    ),
    ("auth.required", SAMPLES["auth.required"], "send_email needs alice's email connection"),
    ("rate_limited", SAMPLES["rate_limited"], "search is rate limited (2/s); waiting 0.42 s"),
    (
        "replay.divergence",
        SAMPLES["replay.divergence"],
        'Diverged from the recorded run: add_note({"day":"Monday"}): '
        "the recorded run made no such call",
    ),
    (
        "tool_result",
        {"name": "add_note", "ok": True, "output": 7, "duration_ms": 0, "replayed": True},
        "add_note returned 7 (replayed from the recording)",
    ),
    ("interrupt", SAMPLES["interrupt"], 'Paused at 1 interrupt: ["Proceed?"]'),
    ("source", SAMPLES["source"], "Write-ahead logging https://sqlite.org/wal.html"),
    ("file.created", SAMPLES["file.created"], "Saved report.xlsx (5120 bytes) in step 2"),
    ("reasoning", SAMPLES["reasoning"], "The notes are short; one search will do."),
    ("result", SAMPLES["result"], '{"answer":42}'),
    (
        "result",
        {"type": "document", "content": "# Hi", "sources": [{"title": "a"}, {"title": "b"}]},
        "A document of 4 characters citing 2 sources",
    ),
    ("error", SAMPLES["error"], "it always fails (example_failure)"),
    (
        "reconciled",
        SAMPLES["reconciled"],
        "The run had a workflow that ended (ERROR); started it again as run_1.1",
    ),
    (
        "reconciled",
        {"found": "missing", "action": "queued", "workflow": "run_1", "workflow_status": None},
        "The run had no workflow; queued run_1 again",
    ),
    (
        "reconciled",
        {"found": "ended", "action": "failed", "workflow": "run_1.3", "workflow_status": "ERROR"},
        "The run had a workflow that ended (ERROR); the run failed: it was started again too often",
    ),
    (
        "planning",
        {"format": "json", "content": ["search", "write"]},
        "2 steps planned: search; write",
    ),
    (
        "planning",
        {"format": "json", "content": {"steps": [{"number": 1, "tool": "search"}]}},
        "1 step planned: 1. search({})",
    ),
]


def test_every_event_type_has_a_sample_here() -> None:
    assert set(SAMPLES) == EVENT_TYPES


@pytest.mark.parametrize("type_", sorted(EVENT_TYPES))
def test_each_sample_fits_the_payload_its_type_declares(type_: str) -> None:
    payload = EVENTS[type_].payload
    required = payload.__required_keys__  # type: ignore[attr-defined]
    known = required | payload.__optional_keys__  # type: ignore[attr-defined]
    assert required <= SAMPLES[type_].keys() <= known


@pytest.mark.parametrize("type_", sorted(EVENT_TYPES))
def test_every_event_type_has_a_label_and_its_own_wording(type_: str) -> None:
    text = describe_event(type_, SAMPLES[type_])
    assert text and "\n" not in text
    assert event_label(type_) != type_


def test_every_type_the_code_emits_is_in_the_table() -> None:
    emitted = re.compile(
        r"""(?:NewEvent\(|_buffer\(|\bnote\(|\bemit\(|\bemit_at\(\s*\w+,|event=\()\s*"([a-z_.]+)\""""
    )
    found = {name for path in SRC.rglob("*.py") for name in emitted.findall(path.read_text())} | {
        "status"
    }  # written by store.runs.move_run
    assert {"rate_limited", "interrupt", "approval.required", "tool_result"} <= found
    assert found <= EVENT_TYPES, found - EVENT_TYPES


def test_every_event_type_has_its_wording_pinned_here() -> None:
    assert {type_ for type_, _, _ in WORDINGS} == EVENT_TYPES


@pytest.mark.parametrize(("type_", "data", "wording"), WORDINGS)
def test_events_read_as_people_say_them(type_: str, data: dict[str, Any], wording: str) -> None:
    assert describe_event(type_, data) == wording


@pytest.mark.parametrize(
    ("data", "wording"),
    [
        ({"text": "made a file"}, "made a file"),
        ({"message": "quota at 80%"}, "quota at 80%"),
        ({"content": "draft two"}, "draft two"),
        ({"path": "/tmp/a.txt", "bytes": 12}, '{"path":"/tmp/a.txt","bytes":12}'),
        ({}, ""),
        (None, ""),
    ],
)
def test_an_agents_own_event_type_reads_by_its_text_or_its_json(
    data: dict[str, Any] | None, wording: str
) -> None:
    assert describe_event("draft.saved", data) == wording
    assert event_label("draft.saved") == "draft.saved"


def test_a_long_or_multiline_wording_becomes_one_cut_line() -> None:
    text = describe_event("reasoning", {"text": "first line\n\nsecond   line " + "x" * 200}, 40)
    assert len(text) == 40 and text.endswith("…")
    assert text.startswith("first line second line x")
    assert describe_event("reasoning", {"text": "short"}, 40) == "short"
