"""``/v1/benchmarks``: an agent's benchmarks, their cases, and suite runs of them."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.domain.models import BenchmarkCaseRecord, BenchmarkResultRecord, BenchmarkSuiteRecord
from runplane.schemas import Page
from runplane.schemas.benchmarks import (
    BenchmarkCreate,
    BenchmarkPublic,
    BenchmarkUpdate,
    CaseCreate,
    CaseFromRun,
    CasePublic,
    ResultPublic,
    SuiteCreate,
    SuitePublic,
)
from runplane.services import benchmarks as svc

router = APIRouter(prefix="/v1/benchmarks", tags=["benchmarks"])
BenchmarkId = Annotated[str, Path(min_length=1, max_length=40)]
CaseId = Annotated[str, Path(min_length=1, max_length=40)]
SuiteId = Annotated[str, Path(min_length=1, max_length=40)]
Limit = Annotated[int, Query(ge=1, le=100)]
Token = Annotated[str | None, Query(max_length=500)]


def benchmark_public(view: svc.BenchmarkView) -> BenchmarkPublic:
    """A benchmark with its agent's name and its number of cases."""
    row, agent_name, cases = view
    return BenchmarkPublic.model_validate({**row, "agent_name": agent_name, "case_count": cases})


def case_public(row: BenchmarkCaseRecord) -> CasePublic:
    """A case as the API shows it."""
    return CasePublic.model_validate(row)


def suite_public(row: BenchmarkSuiteRecord) -> SuitePublic:
    """A suite run as the API shows it."""
    return SuitePublic.model_validate(row)


def result_public(row: BenchmarkResultRecord) -> ResultPublic:
    """A scored run as the API shows it, named after the item it ran."""
    item = row.get("item") or {}
    name = item.get("name")
    return ResultPublic.model_validate({**row, "name": name if isinstance(name, str) else None})


@router.post(
    "",
    status_code=201,
    response_model=BenchmarkPublic,
    responses={403: {}, 404: {}, 409: {}, 422: {}},
)
async def create_benchmark(
    body: BenchmarkCreate, rt: RuntimeDep, who: PrincipalDep
) -> BenchmarkPublic:
    """Define a benchmark of an agent: its scorers, completion sampling and gate."""
    return benchmark_public(await svc.create_benchmark(rt, who, body))


@router.get("", response_model=Page[BenchmarkPublic], responses={400: {}, 403: {}, 404: {}})
async def list_benchmarks(
    rt: RuntimeDep,
    who: PrincipalDep,
    agent_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 20,
    continuation_token: Token = None,
) -> Page[BenchmarkPublic]:
    """The tenant's benchmarks (of one agent, by id or name), newest first."""
    views, token = await svc.list_benchmarks(rt, who, agent_id, limit, continuation_token)
    return Page[BenchmarkPublic](
        items=[benchmark_public(v) for v in views], continuation_token=token
    )


@router.get("/suites/{suite_id}", response_model=SuitePublic, responses={403: {}, 404: {}})
async def get_any_suite(
    suite_id: SuiteId,
    rt: RuntimeDep,
    who: PrincipalDep,
    wait: Annotated[float | None, Query(ge=0, le=600)] = None,
) -> SuitePublic:
    """A suite run by its id alone (a benchmark's, or a replay gate's); ``wait`` as above."""
    return suite_public(await svc.get_suite(rt, who, None, suite_id, wait))


@router.get(
    "/suites/{suite_id}/results",
    response_model=Page[ResultPublic],
    responses={400: {}, 403: {}, 404: {}},
)
async def any_suite_results(
    suite_id: SuiteId,
    rt: RuntimeDep,
    who: PrincipalDep,
    limit: Limit = 20,
    continuation_token: Token = None,
) -> Page[ResultPublic]:
    """A suite run's scored runs by the suite's id alone, newest first."""
    rows, token = await svc.suite_results(rt, who, None, suite_id, limit, continuation_token)
    return Page[ResultPublic](items=[result_public(r) for r in rows], continuation_token=token)


@router.post(
    "/suites/{suite_id}/cancel",
    response_model=SuitePublic,
    responses={403: {}, 404: {}, 409: {}},
)
async def cancel_any_suite(suite_id: SuiteId, rt: RuntimeDep, who: PrincipalDep) -> SuitePublic:
    """Cancel a suite run by its id alone."""
    return suite_public(await svc.cancel_suite(rt, who, None, suite_id))


@router.get("/{benchmark_id}", response_model=BenchmarkPublic, responses={403: {}, 404: {}})
async def get_benchmark(
    benchmark_id: BenchmarkId, rt: RuntimeDep, who: PrincipalDep
) -> BenchmarkPublic:
    """One benchmark."""
    return benchmark_public(await svc.get_benchmark(rt, who, benchmark_id))


@router.patch(
    "/{benchmark_id}", response_model=BenchmarkPublic, responses={403: {}, 404: {}, 422: {}}
)
async def update_benchmark(
    benchmark_id: BenchmarkId, body: BenchmarkUpdate, rt: RuntimeDep, who: PrincipalDep
) -> BenchmarkPublic:
    """Change a benchmark's description, scorers, completion sampling or gate."""
    return benchmark_public(await svc.update_benchmark(rt, who, benchmark_id, body))


@router.delete(
    "/{benchmark_id}", status_code=204, response_class=Response, responses={403: {}, 404: {}}
)
async def delete_benchmark(
    benchmark_id: BenchmarkId, rt: RuntimeDep, who: PrincipalDep
) -> Response:
    """Delete a benchmark and its cases (its results stay)."""
    await svc.delete_benchmark(rt, who, benchmark_id)
    return Response(status_code=204)


@router.post(
    "/{benchmark_id}/cases",
    status_code=201,
    response_model=CasePublic,
    responses={403: {}, 404: {}, 422: {}},
)
async def create_case(
    benchmark_id: BenchmarkId, body: CaseCreate, rt: RuntimeDep, who: PrincipalDep
) -> CasePublic:
    """Add a case: an input and variables, its expected output, tags."""
    return case_public(await svc.create_case(rt, who, benchmark_id, body))


@router.post(
    "/{benchmark_id}/cases/from-run",
    status_code=201,
    response_model=CasePublic,
    responses={403: {}, 404: {}, 409: {}, 410: {}, 422: {}},
)
async def case_from_run(
    benchmark_id: BenchmarkId, body: CaseFromRun, rt: RuntimeDep, who: PrincipalDep
) -> CasePublic:
    """Save a succeeded run as a case ("save as case"): its result is the reference."""
    return case_public(await svc.case_from_run(rt, who, benchmark_id, body))


@router.get(
    "/{benchmark_id}/cases", response_model=Page[CasePublic], responses={400: {}, 403: {}, 404: {}}
)
async def list_cases(
    benchmark_id: BenchmarkId,
    rt: RuntimeDep,
    who: PrincipalDep,
    limit: Limit = 20,
    continuation_token: Token = None,
) -> Page[CasePublic]:
    """A benchmark's cases, newest first."""
    rows, token = await svc.list_cases(rt, who, benchmark_id, limit, continuation_token)
    return Page[CasePublic](items=[case_public(r) for r in rows], continuation_token=token)


@router.get(
    "/{benchmark_id}/cases/{case_id}", response_model=CasePublic, responses={403: {}, 404: {}}
)
async def get_case(
    benchmark_id: BenchmarkId, case_id: CaseId, rt: RuntimeDep, who: PrincipalDep
) -> CasePublic:
    """One case."""
    return case_public(await svc.get_case(rt, who, benchmark_id, case_id))


@router.delete(
    "/{benchmark_id}/cases/{case_id}",
    status_code=204,
    response_class=Response,
    responses={403: {}, 404: {}},
)
async def delete_case(
    benchmark_id: BenchmarkId, case_id: CaseId, rt: RuntimeDep, who: PrincipalDep
) -> Response:
    """Delete a case."""
    await svc.delete_case(rt, who, benchmark_id, case_id)
    return Response(status_code=204)


@router.post(
    "/{benchmark_id}/runs",
    status_code=201,
    response_model=SuitePublic,
    responses={403: {}, 404: {}, 409: {}, 422: {}},
)
async def run_suite(
    benchmark_id: BenchmarkId, body: SuiteCreate, rt: RuntimeDep, who: PrincipalDep
) -> SuitePublic:
    """Run the benchmark's cases against a revision (default: the published one)."""
    return suite_public(await svc.run_suite(rt, who, benchmark_id, body))


@router.get(
    "/{benchmark_id}/runs", response_model=Page[SuitePublic], responses={400: {}, 403: {}, 404: {}}
)
async def list_suites(
    benchmark_id: BenchmarkId,
    rt: RuntimeDep,
    who: PrincipalDep,
    limit: Limit = 20,
    continuation_token: Token = None,
) -> Page[SuitePublic]:
    """The benchmark's suite runs, newest first."""
    rows, token = await svc.list_suites(rt, who, benchmark_id, limit, continuation_token)
    return Page[SuitePublic](items=[suite_public(r) for r in rows], continuation_token=token)


@router.get(
    "/{benchmark_id}/runs/{suite_id}", response_model=SuitePublic, responses={403: {}, 404: {}}
)
async def get_suite(
    benchmark_id: BenchmarkId,
    suite_id: SuiteId,
    rt: RuntimeDep,
    who: PrincipalDep,
    wait: Annotated[float | None, Query(ge=0, le=600)] = None,
) -> SuitePublic:
    """A suite run: its progress, and once finished its summary and verdict.

    ``wait`` holds the answer up to that many seconds until the suite has ended.
    """
    return suite_public(await svc.get_suite(rt, who, benchmark_id, suite_id, wait))


@router.get(
    "/{benchmark_id}/runs/{suite_id}/results",
    response_model=Page[ResultPublic],
    responses={400: {}, 403: {}, 404: {}},
)
async def suite_results(
    benchmark_id: BenchmarkId,
    suite_id: SuiteId,
    rt: RuntimeDep,
    who: PrincipalDep,
    limit: Limit = 20,
    continuation_token: Token = None,
) -> Page[ResultPublic]:
    """A suite run's scored runs, newest first."""
    rows, token = await svc.suite_results(
        rt, who, benchmark_id, suite_id, limit, continuation_token
    )
    return Page[ResultPublic](items=[result_public(r) for r in rows], continuation_token=token)


@router.post(
    "/{benchmark_id}/runs/{suite_id}/cancel",
    response_model=SuitePublic,
    responses={403: {}, 404: {}, 409: {}},
)
async def cancel_suite(
    benchmark_id: BenchmarkId, suite_id: SuiteId, rt: RuntimeDep, who: PrincipalDep
) -> SuitePublic:
    """Cancel a suite run: its unfinished runs are cancelled, and it ends cancelled."""
    return suite_public(await svc.cancel_suite(rt, who, benchmark_id, suite_id))
