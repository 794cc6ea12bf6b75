"""``/v1/model-providers``: a tenant's own model endpoints and keys (admin keys)."""

from typing import Annotated

from fastapi import APIRouter, Path, Response

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.domain.models import ModelProviderRecord
from runplane.schemas import Page
from runplane.schemas.models import ModelProviderPublic, ModelProviderPut
from runplane.services import model_providers as svc

router = APIRouter(prefix="/v1/model-providers", tags=["models"])
ProviderName = Annotated[
    str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]


def provider_public(row: ModelProviderRecord) -> ModelProviderPublic:
    """A model provider as answered: its key masked."""
    return ModelProviderPublic(
        name=row["name"],
        kind=row["kind"],  # type: ignore[arg-type]
        base_url=row["base_url"],
        api_key=svc.masked(row),
        default_model=row["default_model"],
        default=row["is_default"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


@router.get("", response_model=Page[ModelProviderPublic], responses={403: {}})
async def list_providers(rt: RuntimeDep, who: PrincipalDep) -> Page[ModelProviderPublic]:
    """The tenant's model providers, by name (admin keys)."""
    rows = await svc.list_providers(rt, who)
    return Page[ModelProviderPublic](items=[provider_public(r) for r in rows])


@router.get("/{name}", response_model=ModelProviderPublic, responses={403: {}})
async def get_provider(
    name: ProviderName, rt: RuntimeDep, who: PrincipalDep
) -> ModelProviderPublic:
    """One model provider of the tenant (admin keys)."""
    return provider_public(await svc.get_provider(rt, who, name))


@router.put("/{name}", response_model=ModelProviderPublic, responses={403: {}})
async def put_provider(
    name: ProviderName, body: ModelProviderPut, rt: RuntimeDep, who: PrincipalDep
) -> ModelProviderPublic:
    """Add or change a model provider; its key is stored encrypted (admin keys)."""
    row = await svc.put_provider(
        rt,
        who,
        name,
        kind=body.kind,
        base_url=body.base_url,
        api_key=body.api_key,
        default_model=body.default_model,
        is_default=body.default,
    )
    return provider_public(row)


@router.delete("/{name}", status_code=204, response_class=Response, responses={403: {}})
async def delete_provider(name: ProviderName, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Remove a model provider and its key (admin keys)."""
    await svc.delete_provider(rt, who, name)
    return Response(status_code=204)
