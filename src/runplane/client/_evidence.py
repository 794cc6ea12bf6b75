"""The calls of evidence bundles, exports and signing keys, built but not sent (see ``_base``)."""

from datetime import datetime

from runplane.client._base import BaseClient, Call, _segment, read_bytes
from runplane.schemas import Page
from runplane.schemas.evidence import ExportCreate, ExportPublic, SigningKeyPublic


class EvidenceCalls:
    """``/v1/runs/{id}/evidence``, ``/v1/governance/exports`` and ``/v1/governance/keys``."""

    def __init__(self, base: BaseClient) -> None:
        self._base = base

    def run_bundle(self, run_id: str) -> Call[bytes]:
        """``GET /v1/runs/{id}/evidence``."""
        path = f"/v1/runs/{_segment(run_id)}/evidence"
        return Call(self._base.build_request("GET", path), read_bytes)

    def create_export(
        self,
        run_ids: list[str] | None,
        agent_id: str | None,
        created_after: datetime | None,
        created_before: datetime | None,
        status: str | None,
    ) -> Call[ExportPublic]:
        """``POST /v1/governance/exports``: run ids, or else a query."""
        query = {
            "agent_id": agent_id,
            "created_after": created_after,
            "created_before": created_before,
            "status": status,
        }
        fields = (
            {"run_ids": run_ids}
            if run_ids is not None
            else {"query": {k: v for k, v in query.items() if v is not None}}
        )
        body = ExportCreate.model_validate(fields).model_dump(mode="json", exclude_none=True)
        return self._base.call("POST", "/v1/governance/exports", ExportPublic, json=body)

    def get_export(self, export_id: str) -> Call[ExportPublic]:
        """``GET /v1/governance/exports/{id}``."""
        path = f"/v1/governance/exports/{_segment(export_id)}"
        return self._base.call("GET", path, ExportPublic)

    def list_exports(self, limit: int, continuation_token: str | None) -> Call[Page[ExportPublic]]:
        """``GET /v1/governance/exports``."""
        params = {"limit": limit, "continuation_token": continuation_token}
        return self._base.call("GET", "/v1/governance/exports", Page[ExportPublic], params=params)

    def download_export(self, export_id: str) -> Call[bytes]:
        """``GET /v1/governance/exports/{id}/download``."""
        path = f"/v1/governance/exports/{_segment(export_id)}/download"
        return Call(self._base.build_request("GET", path), read_bytes)

    def keys(self) -> Call[Page[SigningKeyPublic]]:
        """``GET /v1/governance/keys``."""
        return self._base.call("GET", "/v1/governance/keys", Page[SigningKeyPublic])

    def rotate_key(self) -> Call[SigningKeyPublic]:
        """``POST /v1/governance/keys/rotate``."""
        return self._base.call("POST", "/v1/governance/keys/rotate", SigningKeyPublic)
