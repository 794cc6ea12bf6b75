"""``/v1/models``: the model catalogue, built-in and the tenant's own entries (its prices)."""

from typing import Annotated

from fastapi import APIRouter, Path, Response

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.providers.catalog import ModelInfo
from runplane.schemas import Page
from runplane.schemas.models import NAME_PATTERN, ModelPublic, ModelPut
from runplane.services import models as svc

router = APIRouter(prefix="/v1/models", tags=["models"])
ModelName = Annotated[str, Path(min_length=1, max_length=200, pattern=NAME_PATTERN)]


def model_public(info: ModelInfo, source: str) -> ModelPublic:
    """A catalogue entry as answered."""
    return ModelPublic(
        name=info.name,
        provider=info.provider,
        context_window=info.context_window,
        input_per_mtok=info.input_per_mtok,
        output_per_mtok=info.output_per_mtok,
        cached_per_mtok=info.cached_per_mtok,
        source=source,  # type: ignore[arg-type]
    )


@router.get("", response_model=Page[ModelPublic])
async def list_models(rt: RuntimeDep, who: PrincipalDep) -> Page[ModelPublic]:
    """Every model the tenant may name: built-in ones and its own entries, by name."""
    found = await svc.list_models(rt, who)
    return Page[ModelPublic](items=[model_public(i, s) for i, s in found])


@router.get("/{name:path}", response_model=ModelPublic)
async def get_model(name: ModelName, rt: RuntimeDep, who: PrincipalDep) -> ModelPublic:
    """One model of the catalogue (the tenant's entry over the built-in one)."""
    return model_public(*await svc.get_model(rt, who, name))


@router.put("/{name:path}", response_model=ModelPublic, responses={403: {}})
async def put_model(
    name: ModelName, body: ModelPut, rt: RuntimeDep, who: PrincipalDep
) -> ModelPublic:
    """Set the tenant's own entry for a model: provider, context window, prices (admin keys)."""
    info = ModelInfo(
        name,
        body.provider,
        body.context_window,
        body.input_per_mtok,
        body.output_per_mtok,
        body.cached_per_mtok,
    )
    return model_public(await svc.put_model(rt, who, info), svc.TENANT)


@router.delete("/{name:path}", status_code=204, response_class=Response, responses={403: {}})
async def delete_model(name: ModelName, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Remove the tenant's own entry; the built-in one, if any, applies again (admin keys)."""
    await svc.delete_model(rt, who, name)
    return Response(status_code=204)
