"""``/v1/webhook-endpoints``: where the tenant's lifecycle webhooks go (admin keys)."""

from typing import Annotated

from fastapi import APIRouter, Path, Response

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.domain.models import WebhookEndpointRecord
from runplane.schemas import (
    Page,
    WebhookEndpointCreate,
    WebhookEndpointPublic,
    WebhookEndpointUpdate,
)
from runplane.services import webhook_endpoints as svc

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])
EndpointId = Annotated[str, Path(min_length=1, max_length=40)]


def endpoint_public(row: WebhookEndpointRecord) -> WebhookEndpointPublic:
    """An endpoint as answered: never its secret, only whether it has one of its own."""
    return WebhookEndpointPublic(
        id=row["id"],
        url=row["url"],
        events=list(row["events"]),
        enabled=row["enabled"],
        own_secret=row["secret"] is not None,
        description=row["description"],
        disabled_reason=row["disabled_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


@router.post("", status_code=201, response_model=WebhookEndpointPublic)
async def create_endpoint(
    body: WebhookEndpointCreate, rt: RuntimeDep, who: PrincipalDep
) -> WebhookEndpointPublic:
    """Add an endpoint that gets the tenant's run lifecycle events (admin keys)."""
    row = await svc.create(
        rt,
        who,
        body.url,
        list(body.events),
        secret=body.secret,
        enabled=body.enabled,
        description=body.description,
    )
    return endpoint_public(row)


@router.get("", response_model=Page[WebhookEndpointPublic], responses={403: {}})
async def list_endpoints(
    rt: RuntimeDep, who: PrincipalDep, enabled: bool | None = None
) -> Page[WebhookEndpointPublic]:
    """The tenant's webhook endpoints, oldest first; ``enabled`` filters (admin keys)."""
    rows = await svc.list_endpoints(rt, who, enabled)
    return Page[WebhookEndpointPublic](items=[endpoint_public(r) for r in rows])


@router.get("/{endpoint_id}", response_model=WebhookEndpointPublic, responses={403: {}})
async def get_endpoint(
    endpoint_id: EndpointId, rt: RuntimeDep, who: PrincipalDep
) -> WebhookEndpointPublic:
    """One webhook endpoint (admin keys)."""
    return endpoint_public(await svc.get_endpoint(rt, who, endpoint_id))


@router.patch("/{endpoint_id}", response_model=WebhookEndpointPublic)
async def update_endpoint(
    endpoint_id: EndpointId, body: WebhookEndpointUpdate, rt: RuntimeDep, who: PrincipalDep
) -> WebhookEndpointPublic:
    """Change an endpoint's URL, events, secret, description, or enable/disable it."""
    changes = body.model_dump(exclude_unset=True)
    return endpoint_public(await svc.update_endpoint(rt, who, endpoint_id, changes))


@router.delete("/{endpoint_id}", status_code=204, response_class=Response)
async def delete_endpoint(endpoint_id: EndpointId, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Remove an endpoint (admin keys); its pending deliveries are not sent."""
    await svc.delete_endpoint(rt, who, endpoint_id)
    return Response(status_code=204)
