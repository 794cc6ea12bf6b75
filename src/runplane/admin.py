"""Operations the CLI runs against the database directly, without a server."""

import asyncio

from runplane.services import auth
from runplane.settings import Settings
from runplane.store import migrate
from runplane.store.db import Database


def create_api_key(
    settings: Settings,
    tenant: str = "default",
    name: str | None = None,
    role: str = "admin",
    user_id: str | None = None,
) -> str:
    """Create an API key for a tenant (created if new), bound to ``user_id`` if given."""
    migrate.upgrade(settings.session_url)

    async def _create() -> str:
        db = Database(settings.database_url, pooler=settings.behind_pooler)
        try:
            return await auth.create_key(db, tenant, name, role, user_id)
        finally:
            await db.close()

    return asyncio.run(_create())


def set_tenant_quotas(
    settings: Settings, tenant: str, values: dict[str, int | None]
) -> dict[str, int | None]:
    """Set (None: clear) a tenant's quota overrides, above the defaults if need be."""
    from runplane.domain.errors import NotFound
    from runplane.services import quotas
    from runplane.store import tenants

    migrate.upgrade(settings.session_url)

    async def _set() -> dict[str, int | None]:
        db = Database(settings.database_url, pooler=settings.behind_pooler)
        try:
            async with db.read() as conn:
                row = await tenants.get_tenant_by_name(conn, tenant)
            if row is None:
                raise NotFound(f"no tenant {tenant!r}", [{"name": "tenant", "value": tenant}])
            await quotas.set_limits(db, row["id"], values)
            async with db.read() as conn:
                row = await tenants.get_tenant_by_name(conn, tenant)
            assert row is not None
            return {"max_running": row["max_running"], "max_queued": row["max_queued"]}
        finally:
            await db.close()

    return asyncio.run(_set())
