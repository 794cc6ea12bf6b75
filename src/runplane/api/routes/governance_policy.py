"""``/v1/governance/policy``: the tenant's governance policy, its versions, and changing it."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.schemas.governance import PolicyUpdate, PolicyVersionPage, PolicyVersionPublic
from runplane.services import governance_policy as svc

router = APIRouter(prefix="/v1/governance/policy", tags=["governance"])


@router.get("", response_model=PolicyVersionPublic, responses={403: {}})
async def get_policy(rt: RuntimeDep, who: PrincipalDep) -> PolicyVersionPublic:
    """The policy version in force, with its document."""
    return PolicyVersionPublic.model_validate(await svc.get_policy(rt, who))


@router.put("", response_model=PolicyVersionPublic, responses={403: {}, 409: {}, 422: {}})
async def set_policy(body: PolicyUpdate, rt: RuntimeDep, who: PrincipalDep) -> PolicyVersionPublic:
    """Store a new version of the policy and put it in force (admin keys; audited)."""
    row = await svc.set_policy(rt, who, body.document, body.comment, body.base_version)
    return PolicyVersionPublic.model_validate(row)


@router.get("/versions", response_model=PolicyVersionPage, responses={403: {}})
async def list_versions(
    rt: RuntimeDep,
    who: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[int | None, Query(ge=2)] = None,
) -> PolicyVersionPage:
    """The policy's versions newest first; pass ``before`` back for the next page."""
    rows, more = await svc.list_versions(rt, who, limit, before)
    items = [PolicyVersionPublic.model_validate(r) for r in rows]
    return PolicyVersionPage(items=items, before=more)


@router.get("/versions/{version}", response_model=PolicyVersionPublic, responses={404: {}})
async def get_version(
    version: Annotated[int, Path(ge=1)], rt: RuntimeDep, who: PrincipalDep
) -> PolicyVersionPublic:
    """One version of the policy."""
    return PolicyVersionPublic.model_validate(await svc.get_version(rt, who, version))
