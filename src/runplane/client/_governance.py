"""The calls of governance: the policy and its versions, legal holds, deletion requests
and tombstones, built but not sent (see ``_base``)."""

from collections.abc import Mapping
from typing import Any

import httpx

from runplane.client._base import BaseClient, Call, _segment, decode, raise_for_error
from runplane.schemas import Page
from runplane.schemas.governance import (
    DeletionRequestPublic,
    HoldCreate,
    HoldPublic,
    PolicyUpdate,
    PolicyVersionPage,
    PolicyVersionPublic,
    TombstonePublic,
)

POLICY = "/v1/governance/policy"
HOLDS = "/v1/governance/holds"
DELETIONS = "/v1/governance/deletions"


def _without_none(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def read_deletion(response: httpx.Response) -> DeletionRequestPublic | None:
    """A delete's answer: None when the run was deleted, the request when it waits (202)."""
    raise_for_error(response)
    return decode(response, DeletionRequestPublic) if response.status_code == 202 else None


def delete_run(
    base: BaseClient, run_id: str, reason: str | None
) -> Call[DeletionRequestPublic | None]:
    """``DELETE /v1/runs/{id}?reason=…``."""
    params = _without_none({"reason": reason})
    request = base.build_request("DELETE", f"/v1/runs/{_segment(run_id)}", params=params)
    return Call(request, read_deletion)


class GovernanceCalls:
    """``/v1/governance``: policy, holds, deletions, tombstones."""

    def __init__(self, base: BaseClient) -> None:
        self._base = base

    def policy(self, version: int | None) -> Call[PolicyVersionPublic]:
        """``GET /v1/governance/policy`` or ``/versions/{n}``."""
        path = POLICY if version is None else f"{POLICY}/versions/{int(version)}"
        return self._base.call("GET", path, PolicyVersionPublic)

    def set_policy(
        self, document: Mapping[str, Any], comment: str | None, base_version: int | None
    ) -> Call[PolicyVersionPublic]:
        """``PUT /v1/governance/policy``."""
        body = PolicyUpdate.model_validate(
            {"document": document, "comment": comment, "base_version": base_version}
        ).model_dump(mode="json", exclude_none=True)
        return self._base.call("PUT", POLICY, PolicyVersionPublic, json=body)

    def versions(self, limit: int | None, before: int | None) -> Call[PolicyVersionPage]:
        """``GET /v1/governance/policy/versions``."""
        params = _without_none({"limit": limit, "before": before})
        return self._base.call("GET", f"{POLICY}/versions", PolicyVersionPage, params=params)

    def hold(self, fields: Mapping[str, Any]) -> Call[HoldPublic]:
        """``POST /v1/governance/holds``."""
        body = HoldCreate.model_validate(fields).model_dump(mode="json", exclude_none=True)
        return self._base.call("POST", HOLDS, HoldPublic, json=body)

    def holds(self, include_released: bool, limit: int | None) -> Call[Page[HoldPublic]]:
        """``GET /v1/governance/holds``."""
        params = _without_none({"include_released": include_released or None, "limit": limit})
        return self._base.call("GET", HOLDS, Page[HoldPublic], params=params)

    def get_hold(self, hold_id: str) -> Call[HoldPublic]:
        """``GET /v1/governance/holds/{id}``."""
        return self._base.call("GET", f"{HOLDS}/{_segment(hold_id)}", HoldPublic)

    def release(self, hold_id: str) -> Call[HoldPublic]:
        """``POST /v1/governance/holds/{id}/release``."""
        return self._base.call("POST", f"{HOLDS}/{_segment(hold_id)}/release", HoldPublic)

    def deletions(self, status: str | None, limit: int | None) -> Call[Page[DeletionRequestPublic]]:
        """``GET /v1/governance/deletions``."""
        params = _without_none({"status": status, "limit": limit})
        return self._base.call("GET", DELETIONS, Page[DeletionRequestPublic], params=params)

    def decide(
        self, request_id: str, approve: bool, comment: str | None
    ) -> Call[DeletionRequestPublic]:
        """``POST /v1/governance/deletions/{id}/approve`` or ``/reject``."""
        verb = "approve" if approve else "reject"
        path = f"{DELETIONS}/{_segment(request_id)}/{verb}"
        return self._base.call("POST", path, DeletionRequestPublic, json={"comment": comment})

    def tombstones(self, limit: int | None) -> Call[Page[TombstonePublic]]:
        """``GET /v1/governance/tombstones``."""
        params = _without_none({"limit": limit})
        return self._base.call(
            "GET", "/v1/governance/tombstones", Page[TombstonePublic], params=params
        )
