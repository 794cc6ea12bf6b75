"""``/v1/webhooks/deliveries``: the lifecycle webhook outbox, its attempts, redelivery."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.domain.models import WebhookAttemptRecord, WebhookDeliveryRecord
from runplane.schemas import Page, WebhookAttemptPublic, WebhookDeliveryPublic
from runplane.services import webhook_deliveries as svc
from runplane.services.webhooks import NOTIFY

router = APIRouter(prefix="/v1/webhooks/deliveries", tags=["webhooks"])
DeliveryId = Annotated[str, Path(min_length=1, max_length=40)]


def delivery_public(
    row: WebhookDeliveryRecord, tries: list[WebhookAttemptRecord] | None = None
) -> WebhookDeliveryPublic:
    """A delivery as answered (with its attempts when ``tries`` is given)."""
    return WebhookDeliveryPublic(
        id=row["id"],
        endpoint_id=None if row["target"] == NOTIFY else row["target"],
        run_id=row["run_id"],
        seq=row["position"],
        event=row["event"],
        payload=dict(row["payload"]),
        status=row["status"],  # type: ignore[arg-type]
        attempt_count=row["attempts"],
        next_attempt_at=row["next_attempt_at"] if row["status"] == "pending" else None,
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        attempts=None
        if tries is None
        else [
            WebhookAttemptPublic(
                number=t["number"],
                at=t["at"],
                status_code=t["status_code"],
                latency_ms=t["latency_ms"],
                response=t["response"],
                error=t["error"],
            )
            for t in tries
        ],
    )


@router.get("", response_model=Page[WebhookDeliveryPublic], responses={403: {}})
async def list_deliveries(
    rt: RuntimeDep,
    who: PrincipalDep,
    endpoint_id: Annotated[str | None, Query(max_length=40)] = None,
    notify: Annotated[bool, Query(description="only the runs' own notify webhooks")] = False,
    run_id: Annotated[str | None, Query(max_length=40)] = None,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    continuation_token: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[WebhookDeliveryPublic]:
    """Webhook deliveries newest first, by endpoint, run and status (admin keys)."""
    rows, token = await svc.list_deliveries(
        rt,
        who,
        endpoint_id=endpoint_id,
        notify=notify,
        run_id=run_id,
        status=status,
        limit=limit,
        continuation_token=continuation_token,
    )
    return Page[WebhookDeliveryPublic](
        items=[delivery_public(r) for r in rows], continuation_token=token
    )


@router.get("/{delivery_id}", response_model=WebhookDeliveryPublic, responses={403: {}})
async def get_delivery(
    delivery_id: DeliveryId, rt: RuntimeDep, who: PrincipalDep
) -> WebhookDeliveryPublic:
    """One delivery with every attempt: status code, latency, answer excerpt, error."""
    row, tries = await svc.get_delivery(rt, who, delivery_id)
    return delivery_public(row, tries)


@router.post("/{delivery_id}/redeliver", response_model=WebhookDeliveryPublic)
async def redeliver(
    delivery_id: DeliveryId, rt: RuntimeDep, who: PrincipalDep
) -> WebhookDeliveryPublic:
    """Send a delivery again (same ``webhook-id``), with a fresh retry window."""
    row, tries = await svc.redeliver(rt, who, delivery_id)
    return delivery_public(row, tries)
