"""Legal holds: which runs a hold keeps, decided in one place for deletion and the sweep.

A hold is a row (on one run, on every run of an agent, or on the runs a query matches)
or a standing hold written in the policy (its runs are kept ``keep_days`` from their
creation). Both are matched here, on plain values, so that a delete, the sweep and the
console give the same answer.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from runplane.domain.json import JSON


@dataclass(frozen=True)
class RunFacts:
    """What a hold can match on."""

    id: str
    agent_id: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class Hold:
    """Why a run is kept: the hold's id (a row's ``hld_…``, or ``policy:NAME``) and reason."""

    id: str
    reason: str


def aware(value: datetime | None) -> datetime | None:
    """A time with its zone; one written without is taken as UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _when(value: JSON) -> datetime | None:
    if not isinstance(value, str):
        return None
    return aware(datetime.fromisoformat(value.replace("Z", "+00:00")))


def query_matches(query: Mapping[str, JSON], run: RunFacts) -> bool:
    """Whether a hold's (or an export's) query matches a run: every given field agrees."""
    agent = query.get("agent_id")
    status = query.get("status")
    after, before = _when(query.get("created_after")), _when(query.get("created_before"))
    return (
        (agent is None or agent == run.agent_id)
        and (status is None or status == run.status)
        and (after is None or run.created_at >= after)
        and (before is None or run.created_at < before)
    )


def row_holds(row: Mapping[str, object], run: RunFacts) -> bool:
    """Whether an active ``legal_holds`` row covers the run."""
    scope = row["scope"]
    if scope == "run":
        return row["run_id"] == run.id
    if scope == "agent":
        return row["agent_id"] == run.agent_id
    query = row["query"]
    return isinstance(query, dict) and query_matches(query, run)


def standing_holds(
    policy_holds: Sequence[Mapping[str, JSON]], run: RunFacts, now: datetime
) -> list[Hold]:
    """The policy's standing holds that still keep the run (``keep_days`` from its creation)."""
    kept = []
    for h in policy_holds:
        days = h.get("keep_days")
        if not isinstance(days, int) or now >= run.created_at + timedelta(days=days):
            continue
        if query_matches({k: v for k, v in h.items() if k != "status"}, run):
            kept.append(Hold(f"policy:{h.get('name')}", str(h.get("reason"))))
    return kept


def holds_on(
    rows: Sequence[Mapping[str, object]],
    policy_holds: Sequence[Mapping[str, JSON]],
    run: RunFacts,
    now: datetime,
) -> list[Hold]:
    """Every hold that keeps the run now: active rows first, then the policy's standing ones."""
    found = [Hold(str(r["id"]), str(r["reason"])) for r in rows if row_holds(r, run)]
    return found + standing_holds(policy_holds, run, now)
