"""The calls of quality figures, built but not sent (see ``_base``)."""

from datetime import datetime

from runplane.client._base import BaseClient, Call, _segment
from runplane.schemas.quality import QualityPublic


class QualityCalls:
    """``GET /v1/agents/{id}/quality`` and ``GET /v1/benchmarks/{id}/dashboard``."""

    def __init__(self, base: BaseClient) -> None:
        self._base = base

    def _params(
        self, since: datetime | None, until: datetime | None, bucket: str, kind: str | None
    ) -> dict[str, str]:
        params = {"bucket": bucket}
        if since is not None:
            params["since"] = since.isoformat()
        if until is not None:
            params["until"] = until.isoformat()
        if kind is not None:
            params["kind"] = kind
        return params

    def agent(
        self,
        agent: str,
        since: datetime | None,
        until: datetime | None,
        bucket: str,
        kind: str | None,
    ) -> Call[QualityPublic]:
        """``GET /v1/agents/{id}/quality``."""
        path = f"/v1/agents/{_segment(agent)}/quality"
        return self._base.call(
            "GET", path, QualityPublic, params=self._params(since, until, bucket, kind)
        )

    def benchmark(
        self,
        benchmark_id: str,
        since: datetime | None,
        until: datetime | None,
        bucket: str,
        kind: str | None,
    ) -> Call[QualityPublic]:
        """``GET /v1/benchmarks/{id}/dashboard``."""
        path = f"/v1/benchmarks/{_segment(benchmark_id)}/dashboard"
        return self._base.call(
            "GET", path, QualityPublic, params=self._params(since, until, bucket, kind)
        )
