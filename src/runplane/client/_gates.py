"""The calls of replay gates and A/B splits, built but not sent (see ``_base``)."""

from runplane.client._base import BaseClient, Call, _segment, raise_for_error
from runplane.schemas.benchmarks import SplitConfig, SplitPublic, SuitePublic


def _revision_path(agent: str, revision: str) -> str:
    return f"/v1/agents/{_segment(agent)}/revisions/{_segment(revision)}"


class GateCalls:
    """``/v1/agents/{id}/revisions/{rev}/gate`` and ``/v1/agents/{id}/split``."""

    def __init__(self, base: BaseClient) -> None:
        self._base = base

    def start(self, agent: str, revision: str) -> Call[SuitePublic]:
        """``POST /v1/agents/{id}/revisions/{rev}/gate``."""
        return self._base.call("POST", _revision_path(agent, revision) + "/gate", SuitePublic)

    def get(self, agent: str, revision: str) -> Call[SuitePublic]:
        """``GET /v1/agents/{id}/revisions/{rev}/gate``."""
        return self._base.call("GET", _revision_path(agent, revision) + "/gate", SuitePublic)

    def split(self, agent: str) -> Call[SplitPublic]:
        """``GET /v1/agents/{id}/split``."""
        return self._base.call("GET", f"/v1/agents/{_segment(agent)}/split", SplitPublic)

    def set_split(
        self, agent: str, revision_a: str, revision_b: str, percent_b: float
    ) -> Call[SplitPublic]:
        """``PUT /v1/agents/{id}/split``."""
        body = SplitConfig(revision_a=revision_a, revision_b=revision_b, percent_b=percent_b)
        path = f"/v1/agents/{_segment(agent)}/split"
        return self._base.call("PUT", path, SplitPublic, json=body.model_dump(mode="json"))

    def remove_split(self, agent: str) -> Call[None]:
        """``DELETE /v1/agents/{id}/split``."""
        path = f"/v1/agents/{_segment(agent)}/split"
        return Call(self._base.build_request("DELETE", path), raise_for_error)
