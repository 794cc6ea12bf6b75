"""Webhook deliveries to a trigger: ``POST /v1/triggers/{id}/hook``, signed, started once.

A delivery carries the Standard Webhooks headers (``schemas/webhooks.py``):
``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``
(``v1,<base64 HMAC-SHA256>`` of ``"{webhook-id}.{webhook-timestamp}.{body}"`` under the
trigger's secret). A bad signature, or a timestamp more than five minutes away, is a 401
and nothing is stored; the signature is compared in constant time. The run is created
under an Idempotency-Key of the trigger and the ``webhook-id``: a delivery sent again
(the sender's retry, or a replay within the window) finds the run the first one started.
"""

from collections.abc import Mapping

from runplane.domain.errors import BadRequest, Conflict, NotFound, Unauthorized
from runplane.domain.models import RunRecord, TriggerRecord, utcnow
from runplane.schemas.webhooks import (
    DEFAULT_TOLERANCE,
    ID_HEADER,
    WebhookVerificationError,
    verify_webhook,
)
from runplane.services import triggers as triggers_svc
from runplane.services.runtime import Runtime
from runplane.store import triggers as store

MAX_DELIVERY_ID = 200


async def _webhook_trigger(rt: Runtime, trigger_id: str) -> TriggerRecord:
    async with rt.db.read() as conn:
        row = await store.get_for_hook(conn, trigger_id)
    if row is None or row["kind"] != "webhook" or row["secret"] is None:
        raise NotFound(
            f"no webhook trigger {trigger_id!r}", [{"name": "trigger_id", "value": trigger_id}]
        )
    return row


async def receive(
    rt: Runtime, trigger_id: str, payload: bytes, headers: Mapping[str, str]
) -> RunRecord:
    """Verify a delivery and start its run (or find the one it started): once recorded."""
    row = await _webhook_trigger(rt, trigger_id)
    secret = rt.keys.open(row["secret"] or "")
    if secret is None:  # sealed under a key this server no longer has
        raise Conflict(
            "the trigger's secret cannot be opened with the server's keys; make a new trigger",
            [{"name": "trigger_id", "value": trigger_id}],
        )
    try:
        body = verify_webhook(payload, headers, secret, DEFAULT_TOLERANCE)
    except WebhookVerificationError as exc:
        raise Unauthorized(
            f"webhook not accepted: {exc}", [{"name": "webhook-signature", "value": None}]
        ) from None
    delivery = {k.lower(): v for k, v in headers.items()}[ID_HEADER]
    if len(delivery) > MAX_DELIVERY_ID:
        raise BadRequest(
            f"webhook-id is longer than {MAX_DELIVERY_ID} characters",
            [{"name": ID_HEADER, "value": delivery[:40]}],
        )
    if not row["enabled"]:
        raise Conflict(f"trigger {trigger_id} is disabled", [{"name": "enabled", "value": False}])
    run_input = triggers_svc.mapped_input(row, body)
    run = await triggers_svc.start_run(
        rt, row, run_input, f"trigger:{row['id']}:delivery:{delivery}"
    )
    async with rt.db.write() as conn:
        await store.update(
            conn,
            row["tenant_id"],
            row["id"],
            last_fired_at=utcnow(),
            last_run_id=run["id"],
        )
    return run
