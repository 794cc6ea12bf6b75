"""``/v1/customer-integrations``: the catalog's integrations the tenant installed."""

from typing import Annotated

from fastapi import APIRouter, Path, Response

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.schemas import (
    CustomerIntegrationCreate,
    CustomerIntegrationPublic,
    CustomerIntegrationUpdate,
    Page,
)
from runplane.services import customer_integrations as svc

router = APIRouter(prefix="/v1/customer-integrations", tags=["customer integrations"])
IntegrationId = Annotated[str, Path(min_length=1, max_length=140)]


@router.post("", status_code=201, response_model=CustomerIntegrationPublic)
async def install(
    body: CustomerIntegrationCreate, rt: RuntimeDep, who: PrincipalDep
) -> CustomerIntegrationPublic:
    """Install an integration of the catalog under a new id (admin keys)."""
    row = await svc.install(
        rt, who, body.integration, name=body.name, active=body.active, settings=body.settings
    )
    return CustomerIntegrationPublic.model_validate(row)


@router.get("", response_model=Page[CustomerIntegrationPublic])
async def list_installed(
    rt: RuntimeDep, who: PrincipalDep, active: bool | None = None
) -> Page[CustomerIntegrationPublic]:
    """The tenant's installed integrations, oldest first; ``active`` filters."""
    rows = await svc.list_installed(rt, who, active)
    return Page[CustomerIntegrationPublic](
        items=[CustomerIntegrationPublic.model_validate(r) for r in rows]
    )


@router.get("/{integration_id}", response_model=CustomerIntegrationPublic)
async def get_installed(
    integration_id: IntegrationId, rt: RuntimeDep, who: PrincipalDep
) -> CustomerIntegrationPublic:
    """One installed integration."""
    return CustomerIntegrationPublic.model_validate(
        await svc.get_installed(rt, who, integration_id)
    )


@router.patch("/{integration_id}", response_model=CustomerIntegrationPublic)
async def update_installed(
    integration_id: IntegrationId,
    body: CustomerIntegrationUpdate,
    rt: RuntimeDep,
    who: PrincipalDep,
) -> CustomerIntegrationPublic:
    """Rename, activate or deactivate, or reconfigure an installed integration (admin keys)."""
    changes = body.model_dump(exclude_unset=True)
    row = await svc.update_installed(rt, who, integration_id, changes)
    return CustomerIntegrationPublic.model_validate(row)


@router.delete("/{integration_id}", status_code=204, response_class=Response)
async def uninstall(integration_id: IntegrationId, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Remove an installed integration (admin keys); started runs keep their allow-list."""
    await svc.uninstall(rt, who, integration_id)
    return Response(status_code=204)
