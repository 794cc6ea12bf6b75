"""What a hold keeps, decided on plain values: rows by run, agent and query; standing holds
of the policy for ``keep_days`` from a run's creation."""

from datetime import UTC, datetime, timedelta

import pytest

from runplane.domain.holds import Hold, RunFacts, holds_on

pytestmark = pytest.mark.database_independent

NOW = datetime(2026, 12, 1, tzinfo=UTC)
RUN = RunFacts("run_1", "agt_a", "succeeded", NOW - timedelta(days=10))


def row(scope: str, **fields: object) -> dict[str, object]:
    return {"id": f"hld_{scope}", "reason": scope, "scope": scope, "run_id": None,
            "agent_id": None, "query": None, **fields}  # fmt: skip


def test_rows_match_their_run_agent_or_query() -> None:
    rows = [
        row("run", run_id="run_1"),
        row("agent", agent_id="agt_a"),
        row("query", query={"agent_id": "agt_a", "created_after": "2026-11-01T00:00:00Z"}),
    ]
    assert [h.id for h in holds_on(rows, [], RUN, NOW)] == ["hld_run", "hld_agent", "hld_query"]
    others = [
        row("run", run_id="run_2"),
        row("agent", agent_id="agt_b"),
        row("query", query={"status": "failed"}),
        row("query", query={"created_before": "2026-11-21T00:00:00"}),  # no zone: UTC
    ]
    assert holds_on(others, [], RUN, NOW) == []


def test_a_standing_hold_keeps_its_runs_for_keep_days_then_lets_go() -> None:
    standing = [{"name": "audit", "reason": "annual", "agent_id": "agt_a", "keep_days": 30}]
    assert holds_on([], standing, RUN, NOW) == [Hold("policy:audit", "annual")]
    later = NOW + timedelta(days=25)
    assert holds_on([], standing, RUN, later) == []
    elsewhere = [{**standing[0], "agent_id": "agt_b"}]
    assert holds_on([], elsewhere, RUN, NOW) == []
