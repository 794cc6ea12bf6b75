"""The calls of benchmarks: definitions, cases, suite runs and scores, built but not sent
(see ``_base``)."""

from collections.abc import Mapping, Sequence
from typing import Any

from runplane.client._base import BaseClient, Call, _segment, raise_for_error
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

BENCHMARKS = "/v1/benchmarks"


def _without_none(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


class BenchmarkCalls:
    """``/v1/benchmarks`` and a run's ``/score`` and ``/scores``."""

    def __init__(self, base: BaseClient) -> None:
        self._base = base

    def _path(self, benchmark_id: str, *rest: str) -> str:
        return "/".join([BENCHMARKS, _segment(benchmark_id), *(_segment(r) for r in rest)])

    def create(self, fields: Mapping[str, Any]) -> Call[BenchmarkPublic]:
        """``POST /v1/benchmarks``."""
        body = BenchmarkCreate.model_validate(fields).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        return self._base.call("POST", BENCHMARKS, BenchmarkPublic, json=body)

    def list(
        self, agent_id: str | None, limit: int | None, token: str | None
    ) -> Call[Page[BenchmarkPublic]]:
        """``GET /v1/benchmarks``."""
        params = _without_none({"agent_id": agent_id, "limit": limit, "continuation_token": token})
        return self._base.call("GET", BENCHMARKS, Page[BenchmarkPublic], params=params)

    def get(self, benchmark_id: str) -> Call[BenchmarkPublic]:
        """``GET /v1/benchmarks/{id}``."""
        return self._base.call("GET", self._path(benchmark_id), BenchmarkPublic)

    def update(self, benchmark_id: str, fields: Mapping[str, Any]) -> Call[BenchmarkPublic]:
        """``PATCH /v1/benchmarks/{id}`` (only the fields given)."""
        body = BenchmarkUpdate.model_validate(fields).model_dump(
            mode="json", by_alias=True, exclude_unset=True
        )
        return self._base.call("PATCH", self._path(benchmark_id), BenchmarkPublic, json=body)

    def delete(self, benchmark_id: str) -> Call[None]:
        """``DELETE /v1/benchmarks/{id}``."""
        return Call(self._base.build_request("DELETE", self._path(benchmark_id)), raise_for_error)

    def add_case(self, benchmark_id: str, fields: Mapping[str, Any]) -> Call[CasePublic]:
        """``POST /v1/benchmarks/{id}/cases``."""
        body = CaseCreate.model_validate(fields).model_dump(mode="json", exclude_none=True)
        return self._base.call("POST", self._path(benchmark_id, "cases"), CasePublic, json=body)

    def from_run(self, benchmark_id: str, fields: Mapping[str, Any]) -> Call[CasePublic]:
        """``POST /v1/benchmarks/{id}/cases/from-run``."""
        body = CaseFromRun.model_validate(fields).model_dump(mode="json", exclude_none=True)
        path = self._path(benchmark_id, "cases", "from-run")
        return self._base.call("POST", path, CasePublic, json=body)

    def cases(
        self, benchmark_id: str, limit: int | None, token: str | None
    ) -> Call[Page[CasePublic]]:
        """``GET /v1/benchmarks/{id}/cases``."""
        params = _without_none({"limit": limit, "continuation_token": token})
        path = self._path(benchmark_id, "cases")
        return self._base.call("GET", path, Page[CasePublic], params=params)

    def get_case(self, benchmark_id: str, case_id: str) -> Call[CasePublic]:
        """``GET /v1/benchmarks/{id}/cases/{case_id}``."""
        return self._base.call("GET", self._path(benchmark_id, "cases", case_id), CasePublic)

    def delete_case(self, benchmark_id: str, case_id: str) -> Call[None]:
        """``DELETE /v1/benchmarks/{id}/cases/{case_id}``."""
        path = self._path(benchmark_id, "cases", case_id)
        return Call(self._base.build_request("DELETE", path), raise_for_error)

    def run_suite(
        self,
        benchmark_id: str,
        revision_id: str | None,
        tags: Sequence[str] | None,
        concurrency: int | None,
    ) -> Call[SuitePublic]:
        """``POST /v1/benchmarks/{id}/runs``."""
        fields = _without_none(
            {
                "revision_id": revision_id,
                "tags": list(tags) if tags else None,
                "concurrency": concurrency,
            }
        )
        body = SuiteCreate.model_validate(fields).model_dump(mode="json", exclude_none=True)
        return self._base.call("POST", self._path(benchmark_id, "runs"), SuitePublic, json=body)

    def suites(
        self, benchmark_id: str, limit: int | None, token: str | None
    ) -> Call[Page[SuitePublic]]:
        """``GET /v1/benchmarks/{id}/runs``."""
        params = _without_none({"limit": limit, "continuation_token": token})
        path = self._path(benchmark_id, "runs")
        return self._base.call("GET", path, Page[SuitePublic], params=params)

    def get_suite(self, suite_id: str, wait: float | None) -> Call[SuitePublic]:
        """``GET /v1/benchmarks/suites/{suite_id}`` (``wait``: held until it ends)."""
        return self._base.call(
            "GET",
            f"{BENCHMARKS}/suites/{_segment(suite_id)}",
            SuitePublic,
            params=_without_none({"wait": wait}),
            read_timeout=self._base.held_timeout(wait),
        )

    def results(
        self, suite_id: str, limit: int | None, token: str | None
    ) -> Call[Page[ResultPublic]]:
        """``GET /v1/benchmarks/suites/{suite_id}/results``."""
        params = _without_none({"limit": limit, "continuation_token": token})
        path = f"{BENCHMARKS}/suites/{_segment(suite_id)}/results"
        return self._base.call("GET", path, Page[ResultPublic], params=params)

    def cancel(self, suite_id: str) -> Call[SuitePublic]:
        """``POST /v1/benchmarks/suites/{suite_id}/cancel``."""
        return self._base.call(
            "POST", f"{BENCHMARKS}/suites/{_segment(suite_id)}/cancel", SuitePublic
        )

    def score_run(self, run_id: str, benchmark_id: str) -> Call[ResultPublic]:
        """``POST /v1/runs/{run_id}/score``."""
        path = f"/v1/runs/{_segment(run_id)}/score"
        return self._base.call("POST", path, ResultPublic, json={"benchmark_id": benchmark_id})

    def scores(self, run_id: str, limit: int | None) -> Call[Page[ResultPublic]]:
        """``GET /v1/runs/{run_id}/scores``."""
        path = f"/v1/runs/{_segment(run_id)}/scores"
        params = _without_none({"limit": limit})
        return self._base.call("GET", path, Page[ResultPublic], params=params)
