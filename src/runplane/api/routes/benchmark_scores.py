"""``/v1/runs/{run_id}/score`` and ``/scores``: a benchmark's scorers applied to one run."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.api.routes.benchmarks import result_public
from runplane.schemas import Page
from runplane.schemas.benchmarks import ResultPublic
from runplane.schemas.wire import _Strict
from runplane.services import benchmark_scores as svc

router = APIRouter(prefix="/v1/runs", tags=["benchmarks"])
RunId = Annotated[str, Path(min_length=1, max_length=40)]


class ScoreRequest(_Strict):
    """Which benchmark's scorers to apply to the run."""

    benchmark_id: str = Field(min_length=1, max_length=40)


@router.post(
    "/{run_id}/score",
    status_code=201,
    response_model=ResultPublic,
    responses={403: {}, 404: {}, 409: {}, 410: {}, 422: {}},
)
async def score_run(
    run_id: RunId, body: ScoreRequest, rt: RuntimeDep, who: PrincipalDep
) -> ResultPublic:
    """Score an ended run with a benchmark's scorers (no reference: see docs/api.md)."""
    return result_public(await svc.score_manually(rt, who, run_id, body.benchmark_id))


@router.get(
    "/{run_id}/scores",
    response_model=Page[ResultPublic],
    responses={400: {}, 403: {}, 404: {}, 410: {}},
)
async def run_scores(
    run_id: RunId,
    rt: RuntimeDep,
    who: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    continuation_token: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[ResultPublic]:
    """A run's scored results: suite, replay, completion and manual, newest first."""
    rows, token = await svc.scores_of_run(rt, who, run_id, limit, continuation_token)
    return Page[ResultPublic](items=[result_public(r) for r in rows], continuation_token=token)
