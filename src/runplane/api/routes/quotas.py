"""``/v1/quotas``: the tenant's limits on runs and streams, and its usage."""

from fastapi import APIRouter

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.schemas.quotas import QuotasPatch, QuotasPublic
from runplane.services import quotas as svc

router = APIRouter(prefix="/v1", tags=["quotas"])


@router.get("/quotas", response_model=QuotasPublic)
async def get_quotas(rt: RuntimeDep, who: PrincipalDep) -> QuotasPublic:
    """The tenant's quotas (its overrides, else the server's defaults) and current usage."""
    return await svc.get(rt, who)


@router.patch("/quotas", response_model=QuotasPublic)
async def update_quotas(body: QuotasPatch, rt: RuntimeDep, who: PrincipalDep) -> QuotasPublic:
    """Lower the tenant's quotas (admin keys); null restores the server's default."""
    return await svc.update(rt, who, body)
