"""Customer integrations: the catalog's integrations a tenant installed, by its own ids.

A tenant installs an integration of the project's catalog (``rt.project.integrations``)
under an id of its own (``calendar_ab12cd34``), a name, settings (not secret: secrets are
users' connections) and an active flag. Runs name them in their allow-list
(``services/runs._integrations``); managing them takes MANAGE_INTEGRATIONS.
"""

import os

from runplane.domain.errors import Invalid, NotFound
from runplane.domain.json import JSONObject
from runplane.domain.models import CustomerIntegrationRecord, Principal, utcnow
from runplane.domain.roles import Permission
from runplane.services import audit
from runplane.services.runtime import Runtime
from runplane.store import customer_integrations as store

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_EDITABLE = frozenset({"name", "active", "settings"})


def _new_id(integration: str) -> str:
    """``<integration>_`` and 8 random characters: readable, and unique within a tenant."""
    return f"{integration}_" + "".join(_ALPHABET[b % 32] for b in os.urandom(8))


async def install(
    rt: Runtime,
    who: Principal,
    integration: str,
    *,
    name: str | None = None,
    active: bool = True,
    settings: JSONObject | None = None,
) -> CustomerIntegrationRecord:
    """Install an integration of the catalog for the tenant, under a new id."""
    who.require(Permission.MANAGE_INTEGRATIONS)
    known = rt.project.integrations
    if integration not in known:
        raise Invalid.field(
            "integration",
            f"unknown integration {integration!r} (known: {', '.join(sorted(known))})",
            integration,
        )
    now = utcnow()
    row: CustomerIntegrationRecord = {
        "tenant_id": who.tenant_id,
        "id": _new_id(integration),
        "integration": integration,
        "name": name or integration,
        "active": active,
        "settings": settings or {},
        "created_at": now,
        "updated_at": now,
    }
    async with rt.db.write() as conn:
        await store.insert(conn, row)
        await audit.record(
            conn, who, "customer_integration.installed", "customer_integration", row["id"], {}
        )
    return row


async def list_installed(
    rt: Runtime, who: Principal, active: bool | None = None
) -> list[CustomerIntegrationRecord]:
    """The tenant's installed integrations, oldest first; ``active`` filters."""
    async with rt.db.read() as conn:
        return await store.list_for_tenant(conn, who.tenant_id, active)


async def get_installed(
    rt: Runtime, who: Principal, integration_id: str
) -> CustomerIntegrationRecord:
    """One installed integration of the tenant, or NotFound."""
    async with rt.db.read() as conn:
        row = await store.get(conn, who.tenant_id, integration_id)
    if row is None:
        raise NotFound(
            f"no customer integration {integration_id!r}",
            [{"name": "customer_integration_id", "value": integration_id}],
        )
    return row


async def update_installed(
    rt: Runtime, who: Principal, integration_id: str, changes: JSONObject
) -> CustomerIntegrationRecord:
    """Rename, (de)activate or reconfigure an installed integration."""
    who.require(Permission.MANAGE_INTEGRATIONS)
    values = {k: v for k, v in changes.items() if k in _EDITABLE and v is not None}
    await get_installed(rt, who, integration_id)
    if values:
        async with rt.db.write() as conn:
            await store.update(conn, who.tenant_id, integration_id, **values, updated_at=utcnow())
            await audit.record(
                conn,
                who,
                "customer_integration.updated",
                "customer_integration",
                integration_id,
                {"changed": [*sorted(values)]},
            )
    return await get_installed(rt, who, integration_id)


async def uninstall(rt: Runtime, who: Principal, integration_id: str) -> None:
    """Remove an installed integration; runs already started keep their allow-list."""
    who.require(Permission.MANAGE_INTEGRATIONS)
    async with rt.db.write() as conn:
        found = await store.delete(conn, who.tenant_id, integration_id)
        if found:
            await audit.record(
                conn, who, "customer_integration.deleted", "customer_integration", integration_id
            )
    if not found:
        raise NotFound(
            f"no customer integration {integration_id!r}",
            [{"name": "customer_integration_id", "value": integration_id}],
        )
