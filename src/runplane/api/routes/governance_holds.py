"""``/v1/governance/holds``: legal holds on a run, an agent's runs, or a query's runs."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.schemas import Page
from runplane.schemas.governance import HoldCreate, HoldPublic
from runplane.services import legal_holds as svc

router = APIRouter(prefix="/v1/governance/holds", tags=["governance"])
HoldId = Annotated[str, Path(min_length=1, max_length=40)]


def hold_public(row: dict[str, Any]) -> HoldPublic:
    """A hold, with whether it is still active."""
    return HoldPublic.model_validate({**row, "active": row["released_at"] is None})


@router.post(
    "", status_code=201, response_model=HoldPublic, responses={403: {}, 404: {}, 410: {}, 422: {}}
)
async def create_hold(body: HoldCreate, rt: RuntimeDep, who: PrincipalDep) -> HoldPublic:
    """Put a run, an agent's runs, or the runs a query matches on legal hold (audited)."""
    return hold_public(await svc.create_hold(rt, who, body))


@router.get("", response_model=Page[HoldPublic], responses={403: {}})
async def list_holds(
    rt: RuntimeDep,
    who: PrincipalDep,
    include_released: bool = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    continuation_token: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[HoldPublic]:
    """The tenant's holds, newest first: the active ones, or all with ``include_released``."""
    rows, token = await svc.list_holds(rt, who, include_released, limit, continuation_token)
    return Page[HoldPublic](items=[hold_public(r) for r in rows], continuation_token=token)


@router.get("/{hold_id}", response_model=HoldPublic, responses={403: {}, 404: {}})
async def get_hold(hold_id: HoldId, rt: RuntimeDep, who: PrincipalDep) -> HoldPublic:
    """One hold, with how many runs it keeps now."""
    return hold_public(await svc.get_hold(rt, who, hold_id))


@router.post("/{hold_id}/release", response_model=HoldPublic, responses={403: {}, 404: {}, 409: {}})
async def release_hold(hold_id: HoldId, rt: RuntimeDep, who: PrincipalDep) -> HoldPublic:
    """Release a hold (audited, with who); its runs may then be deleted or swept."""
    return hold_public(await svc.release_hold(rt, who, hold_id))
