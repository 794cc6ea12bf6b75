"""Scoring one run: its facts (output, status, latency, credits, sources) under scorers.

The deterministic scorers are applied by ``domain.scoring.score``; an ``llm_judge`` needs
a model and is applied by ``services/judge.py`` (the tenant's model grades the output).
"""

import asyncio
from collections.abc import Mapping, Sequence

from runplane.domain.errors import RunplaneError
from runplane.domain.json import JSON, JSONObject
from runplane.domain.models import RunRecord
from runplane.domain.scoring import Facts, Verdict, score, verdict
from runplane.services.judge import judge
from runplane.services.runtime import Runtime


def run_facts(run: RunRecord, reference: JSON) -> Facts:
    """What the scorers see of a run: its result and how long and how much it took."""
    result = run["result"]
    output: JSON = result["content"] if result is not None else None
    sources: list[JSONObject] = list(result["sources"]) if result is not None else []
    ended = run["finished_at"]
    # From creation, as the caller waits for it (queueing included): a fast run's
    # ``started_at`` may be stamped in the same write as its end.
    latency = (
        max(0.0, (ended - run["created_at"]).total_seconds() * 1000) if ended is not None else None
    )
    return Facts(
        output=output,
        reference=reference,
        status=run["status"],
        latency_ms=latency,
        credits=run["credits_actual"],
        sources=sources,
    )


async def score_run(
    rt: Runtime,
    tenant_id: str,
    scorers: Sequence[Mapping[str, JSON]],
    run: RunRecord,
    reference: JSON,
) -> list[Verdict]:
    """Every scorer's verdict on one ended run, against a reference."""
    facts = run_facts(run, reference)
    verdicts: list[Verdict] = []
    for spec in scorers:
        if spec.get("type") == "llm_judge":
            verdicts.append(await judge(rt, tenant_id, dict(spec), facts))
            continue
        if spec.get("type") == "python":
            # A user's function may block: it runs in a thread, not on the event loop.
            verdicts.append(await asyncio.to_thread(_safe_score, spec, facts))
        else:
            verdicts.append(_safe_score(spec, facts))
    return verdicts


def _safe_score(spec: Mapping[str, JSON], facts: Facts) -> Verdict:
    try:
        return score(spec, facts)
    except RunplaneError as exc:  # a scorer that no longer loads fails its verdict
        return verdict(spec, False, 0.0, exc.message)


def mean_score(verdicts: Sequence[Verdict]) -> float | None:
    """The mean of the verdicts' scores (None for none)."""
    return sum(v.score for v in verdicts) / len(verdicts) if verdicts else None
