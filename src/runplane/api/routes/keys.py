"""``/v1/keys``: the tenant's API keys (admin keys only)."""

from fastapi import APIRouter, Response

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.domain.models import ApiKeyRecord
from runplane.schemas import KeyCreate, KeyCreated, KeyPublic, Page
from runplane.services import keys as svc

router = APIRouter(prefix="/v1/keys", tags=["keys"])


def key_public(row: ApiKeyRecord) -> KeyPublic:
    """A key without its hash."""
    return KeyPublic.model_validate(dict(row))


@router.post("", status_code=201, response_model=KeyCreated)
async def create_key(body: KeyCreate, rt: RuntimeDep, who: PrincipalDep) -> KeyCreated:
    """Create a key of this tenant; the answer holds the key itself, shown only this once."""
    key, row = await svc.create_key(rt, who, body.name, body.role, body.user_id)
    return KeyCreated.model_validate({**row, "key": key})


@router.get("", response_model=Page[KeyPublic], responses={403: {}})
async def list_keys(rt: RuntimeDep, who: PrincipalDep) -> Page[KeyPublic]:
    """The tenant's keys, live and revoked, newest first (never their secrets)."""
    rows = await svc.list_keys(rt, who)
    return Page[KeyPublic](items=[key_public(r) for r in rows])


@router.delete("/{key_id}", status_code=204, response_class=Response)
async def revoke_key(key_id: str, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Revoke a key: its next request is refused. The last admin key cannot be revoked (409)."""
    await svc.revoke_key(rt, who, key_id)
    return Response(status_code=204)
