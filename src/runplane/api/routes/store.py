"""``/store``: items in namespaces, the graphs' long-term memory (Agent Protocol)."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.api.routes._protocol import json_answer
from runplane.schemas.agent_protocol import ItemDelete, ItemPut, ItemSearch, NamespaceSearch
from runplane.services import items as svc

router = APIRouter(tags=["store"])


@router.put("/store/items", status_code=204)
async def put_item(body: ItemPut, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Write an item."""
    await svc.put(rt, who, body)
    return Response(status_code=204)


@router.get("/store/items")
async def get_item(
    rt: RuntimeDep,
    who: PrincipalDep,
    key: Annotated[str, Query(min_length=1)],
    namespace: Annotated[str, Query(min_length=1)],
) -> Response:
    """Read an item (``namespace`` dot-separated)."""
    return json_answer(await svc.get(rt, who, namespace.split("."), key))


@router.delete("/store/items", status_code=204)
async def delete_item(body: ItemDelete, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Delete an item."""
    await svc.delete(rt, who, body.namespace, body.key)
    return Response(status_code=204)


@router.post("/store/items/search")
async def search_items(body: ItemSearch, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Items under a namespace prefix."""
    return json_answer({"items": await svc.search(rt, who, body)})


@router.post("/store/namespaces")
async def list_namespaces(body: NamespaceSearch, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Namespaces in use."""
    return json_answer({"namespaces": await svc.namespaces(rt, who, body)})
