"""``/v1/sites``: named collections of the tenant's files."""

from typing import Annotated

from fastapi import APIRouter, Path, Response

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.schemas import Page, SiteCreate, SitePublic
from runplane.services import sites as svc

router = APIRouter(prefix="/v1/sites", tags=["sites and files"])
SiteId = Annotated[str, Path(min_length=1, max_length=200)]


@router.post("", status_code=201, response_model=SitePublic)
async def create_site(body: SiteCreate, rt: RuntimeDep, who: PrincipalDep) -> SitePublic:
    """Create a site; its name is unique in the tenant."""
    row = await svc.create_site(rt, who, body.name, body.description)
    return SitePublic.model_validate(row)


@router.get("", response_model=Page[SitePublic])
async def list_sites(rt: RuntimeDep, who: PrincipalDep) -> Page[SitePublic]:
    """The tenant's sites, oldest first."""
    rows = await svc.list_sites(rt, who)
    return Page[SitePublic](items=[SitePublic.model_validate(r) for r in rows])


@router.get("/{site_id}", response_model=SitePublic)
async def get_site(site_id: SiteId, rt: RuntimeDep, who: PrincipalDep) -> SitePublic:
    """One site, by id or name."""
    return SitePublic.model_validate(await svc.get_site(rt, who, site_id))


@router.delete("/{site_id}", status_code=204, response_class=Response)
async def delete_site(site_id: SiteId, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Delete an empty site that no unfinished run reads."""
    await svc.delete_site(rt, who, site_id)
    return Response(status_code=204)
