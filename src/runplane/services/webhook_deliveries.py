"""The webhook outbox as the tenant sees it: deliveries, their attempts, redelivery (admin keys)."""

from datetime import timedelta

from runplane.domain.errors import NotFound
from runplane.domain.models import (
    Principal,
    WebhookAttemptRecord,
    WebhookDeliveryRecord,
    utcnow,
)
from runplane.domain.roles import Permission
from runplane.services import audit
from runplane.services.runtime import Runtime
from runplane.services.webhooks import NOTIFY, due_again
from runplane.store import runs as runs_store
from runplane.store import webhook_deliveries as store


def _missing(delivery_id: str) -> NotFound:
    return NotFound(
        f"no webhook delivery {delivery_id!r}", [{"name": "delivery_id", "value": delivery_id}]
    )


async def list_deliveries(
    rt: Runtime,
    who: Principal,
    *,
    endpoint_id: str | None = None,
    notify: bool = False,
    run_id: str | None = None,
    status: str | None = None,
    limit: int = 20,
    continuation_token: str | None = None,
) -> tuple[list[WebhookDeliveryRecord], str | None]:
    """Deliveries newest first, filtered by endpoint (or the runs' own webhooks), run, status."""
    who.require(Permission.MANAGE_KEYS)
    after = runs_store.decode_token(continuation_token) if continuation_token else None
    target = NOTIFY if notify else endpoint_id
    async with rt.db.read() as conn:
        rows = await store.list_for_tenant(
            conn,
            who.tenant_id,
            target=target,
            run_id=run_id,
            status=status,
            limit=limit,
            after=after,
        )
    return runs_store.page_of(rows, limit)


async def get_delivery(
    rt: Runtime, who: Principal, delivery_id: str
) -> tuple[WebhookDeliveryRecord, list[WebhookAttemptRecord]]:
    """One delivery and its attempts, or NotFound."""
    who.require(Permission.MANAGE_KEYS)
    async with rt.db.read() as conn:
        row = await store.get(conn, who.tenant_id, delivery_id)
        tries = await store.list_attempts(conn, who.tenant_id, delivery_id) if row else []
    if row is None:
        raise _missing(delivery_id)
    return row, tries


async def redeliver(
    rt: Runtime, who: Principal, delivery_id: str
) -> tuple[WebhookDeliveryRecord, list[WebhookAttemptRecord]]:
    """Send a delivery again, with the same ``webhook-id``, and a fresh retry window."""
    who.require(Permission.MANAGE_KEYS)
    now = utcnow()
    until = now + timedelta(seconds=rt.settings.webhook_retry_seconds)
    async with rt.db.write() as conn:
        found = await store.update(
            conn, who.tenant_id, delivery_id, **due_again(now), retry_until=until
        )
        if found:
            await audit.record(
                conn, who, "webhook_delivery.redelivered", "webhook_delivery", delivery_id
            )
    if not found:
        raise _missing(delivery_id)
    rt.hooks.webhooks.kick()
    return await get_delivery(rt, who, delivery_id)
