"""``/v1/users/{user_id}/connections``: users' credentials for integrations."""

from typing import Annotated

from fastapi import APIRouter, Path, Response

from runplane.api.convert import connection_public
from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.schemas import ConnectionPublic, ConnectionPut, Page
from runplane.services import connections as svc

router = APIRouter(prefix="/v1/users/{user_id}/connections", tags=["connections"])
UserId = Annotated[str, Path(min_length=1, max_length=200)]
Integration = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("", response_model=Page[ConnectionPublic])
async def list_connections(
    user_id: UserId, rt: RuntimeDep, who: PrincipalDep
) -> Page[ConnectionPublic]:
    """A user's connections (never their secrets)."""
    rows = await svc.list_connections(rt, who, user_id)
    return Page[ConnectionPublic](items=[connection_public(r) for r in rows])


@router.put("/{integration}", response_model=ConnectionPublic)
async def put_connection(
    user_id: UserId,
    integration: Integration,
    body: ConnectionPut,
    rt: RuntimeDep,
    who: PrincipalDep,
) -> ConnectionPublic:
    """Supply a credential (stored encrypted); that user's waiting runs resume."""
    row, resumed = await svc.put_connection(rt, who, user_id, integration, body.secret)
    return connection_public(row, resumed)


@router.delete("/{integration}", status_code=204, response_class=Response)
async def delete_connection(
    user_id: UserId, integration: Integration, rt: RuntimeDep, who: PrincipalDep
) -> Response:
    """Revoke a credential."""
    await svc.delete_connection(rt, who, user_id, integration)
    return Response(status_code=204)
