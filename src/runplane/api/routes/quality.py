"""Quality figures: ``GET /v1/benchmarks/{id}/dashboard`` and ``GET /v1/agents/{id}/quality``."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.schemas.quality import BucketSize, QualityPublic, ResultKind
from runplane.services import quality as svc

router = APIRouter(tags=["benchmarks"])
Ref = Annotated[str, Path(min_length=1, max_length=200)]
Since = Annotated[datetime | None, Query(description="From (default: 30 days before until)")]
Until = Annotated[datetime | None, Query(description="Until, excluded (default: now)")]
Bucket = Annotated[BucketSize, Query(description="Size of the over-time buckets")]
Kind = Annotated[ResultKind | None, Query(description="Only results of this kind")]


@router.get(
    "/v1/benchmarks/{benchmark_id}/dashboard",
    response_model=QualityPublic,
    responses={403: {}, 404: {}, 422: {}},
)
async def benchmark_dashboard(
    benchmark_id: Ref,
    rt: RuntimeDep,
    who: PrincipalDep,
    since: Since = None,
    until: Until = None,
    bucket: Bucket = "day",
    kind: Kind = None,
) -> QualityPublic:
    """A benchmark's quality figures: overall, over time, per revision, and the A/B split."""
    w = svc.window(since, until, bucket, kind)  # checks the query (422), reads nothing
    return QualityPublic.model_validate(await svc.benchmark_dashboard(rt, who, benchmark_id, w))


@router.get(
    "/v1/agents/{agent_id}/quality",
    response_model=QualityPublic,
    responses={403: {}, 404: {}, 422: {}},
)
async def agent_quality(
    agent_id: Ref,
    rt: RuntimeDep,
    who: PrincipalDep,
    since: Since = None,
    until: Until = None,
    bucket: Bucket = "day",
    kind: Kind = None,
) -> QualityPublic:
    """An agent's quality figures over all its benchmarks and scored runs."""
    w = svc.window(since, until, bucket, kind)  # checks the query (422), reads nothing
    return QualityPublic.model_validate(await svc.agent_quality(rt, who, agent_id, w))
