"""``/v1/governance/keys``: the tenant's evidence signing keys (public halves), and rotation."""

from fastapi import APIRouter

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.domain.models import SigningKeyRecord
from runplane.schemas import Page
from runplane.schemas.evidence import SigningKeyPublic
from runplane.services import signing_keys as svc

router = APIRouter(prefix="/v1/governance/keys", tags=["governance"])


def key_public(row: SigningKeyRecord) -> SigningKeyPublic:
    """A signing key without its private half."""
    return SigningKeyPublic(
        id=row["id"],
        algorithm=row["algorithm"],
        public_key=row["public_key"],
        created_at=row["created_at"],
        retired_at=row["retired_at"],
        active=row["retired_at"] is None,
    )


@router.get("", response_model=Page[SigningKeyPublic])
async def list_keys(rt: RuntimeDep, who: PrincipalDep) -> Page[SigningKeyPublic]:
    """All the tenant's signing keys, newest first; retired ones still verify old bundles."""
    rows = await svc.list_keys(rt, who)
    return Page[SigningKeyPublic](items=[key_public(r) for r in rows])


@router.post(
    "/rotate", status_code=201, response_model=SigningKeyPublic, responses={403: {}, 409: {}}
)
async def rotate_key(rt: RuntimeDep, who: PrincipalDep) -> SigningKeyPublic:
    """Make a new active signing key and retire the old one (admin keys)."""
    return key_public(await svc.rotate(rt, who))
