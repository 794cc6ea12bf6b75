"""``/v1/tools`` and ``/v1/integrations``: what agents may call."""

from fastapi import APIRouter

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.schemas import IntegrationPublic, Page, ToolPublic
from runplane.services import tools as svc

router = APIRouter(prefix="/v1", tags=["tools"])


@router.get("/tools", response_model=Page[ToolPublic])
async def list_tools(rt: RuntimeDep, _: PrincipalDep) -> Page[ToolPublic]:
    """Every tool, with the JSON Schema of its arguments."""
    return Page[ToolPublic](items=[ToolPublic.model_validate(t) for t in svc.list_tools(rt)])


@router.get("/integrations", response_model=Page[IntegrationPublic])
async def list_integrations(rt: RuntimeDep, _: PrincipalDep) -> Page[IntegrationPublic]:
    """Every integration, with its tools, whether it needs a connection and its limits."""
    return Page[IntegrationPublic](
        items=[IntegrationPublic.model_validate(i) for i in svc.list_integrations(rt)]
    )
