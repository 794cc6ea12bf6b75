"""A tenant's lifecycle webhook endpoints: where its runs' moves are sent (admin keys).

Each endpoint names a URL (checked by the outgoing-call fence when it is saved, and again
at every delivery), the events it wants (``run.succeeded``, …, or ``*``), an optional
secret of its own (sealed at rest, never shown again; else the tenant's signing secret)
and whether it is enabled. A change is forgotten at once by this process's outbox and,
on Postgres, by every other's (``notify.ENDPOINTS``).
"""

from runplane.domain.errors import NotFound
from runplane.domain.ids import new_id
from runplane.domain.json import JSONObject
from runplane.domain.models import Principal, WebhookEndpointRecord, utcnow
from runplane.domain.roles import Permission
from runplane.services import audit
from runplane.services.runtime import Runtime
from runplane.services.webhooks import check_webhook
from runplane.store import notify
from runplane.store import webhook_endpoints as store
from runplane.store.db import Conn

_EDITABLE = frozenset({"url", "events", "secret", "enabled", "description"})


def _missing(endpoint_id: str) -> NotFound:
    return NotFound(
        f"no webhook endpoint {endpoint_id!r}", [{"name": "endpoint_id", "value": endpoint_id}]
    )


async def _changed(rt: Runtime, conn: Conn, tenant_id: str) -> None:
    """Have every process forget the tenant's endpoints (this one now, others at commit)."""
    rt.hooks.webhooks.forget(tenant_id)
    await notify.announce(conn, tenant_id, notify.ENDPOINTS)


async def create(
    rt: Runtime,
    who: Principal,
    url: str,
    events: list[str],
    *,
    secret: str | None = None,
    enabled: bool = True,
    description: str | None = None,
) -> WebhookEndpointRecord:
    """Add an endpoint for the tenant's lifecycle webhooks."""
    who.require(Permission.MANAGE_KEYS)
    check_webhook(rt.settings, "url", url)
    now = utcnow()
    row: WebhookEndpointRecord = {
        "tenant_id": who.tenant_id,
        "id": new_id("whe"),
        "url": url,
        "events": sorted(set(events)),
        "secret": rt.keys.seal(secret) if secret else None,
        "enabled": enabled,
        "description": description,
        "disabled_reason": None,
        "created_at": now,
        "updated_at": now,
    }
    async with rt.db.write() as conn:
        await store.insert(conn, row)
        # The URL is not recorded: webhook URLs often carry a secret.
        await audit.record(conn, who, "webhook_endpoint.created", "webhook_endpoint", row["id"])
        await _changed(rt, conn, who.tenant_id)
    return row


async def list_endpoints(
    rt: Runtime, who: Principal, enabled: bool | None = None
) -> list[WebhookEndpointRecord]:
    """The tenant's endpoints, oldest first; ``enabled`` filters."""
    who.require(Permission.MANAGE_KEYS)
    async with rt.db.read() as conn:
        return await store.list_for_tenant(conn, who.tenant_id, enabled)


async def get_endpoint(rt: Runtime, who: Principal, endpoint_id: str) -> WebhookEndpointRecord:
    """One endpoint of the tenant, or NotFound."""
    who.require(Permission.MANAGE_KEYS)
    async with rt.db.read() as conn:
        row = await store.get(conn, who.tenant_id, endpoint_id)
    if row is None:
        raise _missing(endpoint_id)
    return row


async def update_endpoint(
    rt: Runtime, who: Principal, endpoint_id: str, changes: JSONObject
) -> WebhookEndpointRecord:
    """Change an endpoint's URL, events, secret, description or enabled flag."""
    who.require(Permission.MANAGE_KEYS)
    values: dict[str, object] = {
        k: v for k, v in changes.items() if k in _EDITABLE and v is not None
    }
    if isinstance(values.get("url"), str):
        check_webhook(rt.settings, "url", str(values["url"]))
    events = values.get("events")
    if isinstance(events, list):
        values["events"] = sorted({str(e) for e in events})
    if isinstance(values.get("secret"), str):
        values["secret"] = rt.keys.seal(str(values["secret"]))
    if values.get("enabled") is True:
        values["disabled_reason"] = None
    await get_endpoint(rt, who, endpoint_id)
    if values:
        async with rt.db.write() as conn:
            await store.update(conn, who.tenant_id, endpoint_id, **values, updated_at=utcnow())
            changed = sorted(k for k in values if k != "disabled_reason")
            await audit.record(
                conn,
                who,
                "webhook_endpoint.updated",
                "webhook_endpoint",
                endpoint_id,
                {"changed": [*changed]},
            )
            await _changed(rt, conn, who.tenant_id)
    return await get_endpoint(rt, who, endpoint_id)


async def delete_endpoint(rt: Runtime, who: Principal, endpoint_id: str) -> None:
    """Remove an endpoint; its pending deliveries then fail (``the endpoint was deleted``)."""
    who.require(Permission.MANAGE_KEYS)
    async with rt.db.write() as conn:
        found = await store.delete(conn, who.tenant_id, endpoint_id)
        if found:
            await audit.record(
                conn, who, "webhook_endpoint.deleted", "webhook_endpoint", endpoint_id
            )
            await _changed(rt, conn, who.tenant_id)
    if not found:
        raise _missing(endpoint_id)
