"""``/v1/webhook-secret``: the tenant's webhook signing secret (admin keys only)."""

from fastapi import APIRouter

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.schemas.webhooks import WebhookSecretPublic, WebhookSecretRotate
from runplane.services import webhook_secrets as svc

router = APIRouter(prefix="/v1/webhook-secret", tags=["webhooks"])


@router.post("", response_model=WebhookSecretPublic)
async def rotate_webhook_secret(
    rt: RuntimeDep, who: PrincipalDep, body: WebhookSecretRotate | None = None
) -> WebhookSecretPublic:
    """Make a new signing secret and show it once; the old one signs too for ``grace_seconds``."""
    grace = body.grace_seconds if body is not None else None
    return await svc.rotate(rt.db, rt.keys, who, grace)
