"""An agent's quality page: pass rates, scores, latency and credits over time (uPlot
charts, vendored under ``static/vendor/uplot``), per revision, and the A/B split."""

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from runplane.console.session import UserDep
from runplane.console.views.common import render
from runplane.schemas.quality import QualityPublic
from runplane.services import agents as agents_svc
from runplane.services import quality as svc

router = APIRouter()

RANGES = (1, 7, 30, 90)
KINDS = {"": "All results", **{k: k for k in svc.KINDS}}


def chart_data(q: QualityPublic) -> dict[str, Any]:
    """What quality.js draws: x (unix seconds) and one series per line, None where missing."""
    xs = [int(b.start.timestamp()) for b in q.over_time]
    scorers = sorted({name for b in q.over_time for name in b.scorers})
    return {
        "x": xs,
        "pass_rate": {
            "all scorers": [b.pass_rate for b in q.over_time],
            **{
                name: [
                    b.scorers[name].pass_rate if name in b.scorers else None for b in q.over_time
                ]
                for name in scorers
            },
        },
        "score": {"mean score": [b.mean_score for b in q.over_time]},
        "latency": {
            "p50": [b.latency_p50_ms for b in q.over_time],
            "p95": [b.latency_p95_ms for b in q.over_time],
        },
        "credits": {"mean credits": [b.mean_credits for b in q.over_time]},
    }


def json_for_script(value: object) -> Markup:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>`` breakout)."""
    text = json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - every <, > and & is escaped above


@router.get("/agents/{name}/quality")
async def quality_page(
    request: Request,
    name: str,
    user: UserDep,
    days: Annotated[int, Query()] = 30,
    kind: Annotated[str, Query()] = "",
) -> Response:
    """An agent's quality over time and per revision, with its A/B split when one is on."""
    rt = request.app.state.rt
    days = days if days in RANGES else 30
    kind = kind if kind in KINDS else ""
    until = datetime.now(UTC) + timedelta(minutes=1)
    window = svc.window(
        until - timedelta(days=days), until, "hour" if days <= 7 else "day", kind or None
    )
    agent = await agents_svc.find_agent(rt, user.who, name)
    q = QualityPublic.model_validate(await svc.agent_quality(rt, user.who, agent["id"], window))
    revisions = await agents_svc.list_revisions(rt, user.who, agent["id"])
    stages = {r["id"]: r["stage"] for r in revisions}
    benchmarks = await svc.agent_benchmarks(rt, user.who, agent["id"])
    return render(
        request,
        "quality.html",
        user,
        agent=agent,
        q=q,
        data=json_for_script(chart_data(q)),
        stages=stages,
        benchmarks=benchmarks,
        days=days,
        kind=kind,
        RANGES=RANGES,
        KINDS=KINDS,
        scorer_names=sorted(q.overall.scorers),
    )
