"""Run event types and the hash chain that makes the log tamper-evident.

Each event's hash covers the previous event's hash and the event's own content, so
changing, removing or reordering any event breaks every hash after it.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

EVENT_TYPES = frozenset(
    {
        "status",
        "plan",
        "planning",
        "reasoning",
        "message.delta",
        "step.started",
        "step.completed",
        "step.failed",
        "tool_call",
        "tool_result",
        "approval.required",
        "approval.resolved",
        "auth.required",
        "file.created",
        "source",
        "result",
        "error",
    }
)

GENESIS = "0" * 64


def event_hash(prev_hash: str, run_id: str, seq: int, type_: str, at: str, data: Any) -> str:
    """Hash one event together with the hash of the event before it."""
    body = json.dumps(
        [prev_hash, run_id, seq, type_, at, data],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of checking a run's event log."""

    ok: bool
    events: int
    first_bad_seq: int | None


def verify_chain(run_id: str, events: Iterable[Mapping[str, Any]]) -> ChainCheck:
    """Check seq continuity and every hash of a run's events, given in seq order."""
    prev, count = GENESIS, 0
    for expected_seq, ev in enumerate(events, start=1):
        count += 1
        seq = ev["seq"]
        good = (
            seq == expected_seq
            and ev["prev_hash"] == prev
            and ev["hash"] == event_hash(prev, run_id, seq, ev["type"], ev["at"], ev["data"])
        )
        if not good:
            return ChainCheck(False, count, seq if seq == expected_seq else expected_seq)
        prev = ev["hash"]
    return ChainCheck(True, count, None)
