"""Operations the CLI runs against the database directly, without a server."""

import asyncio

from runplane.services import auth
from runplane.settings import Settings
from runplane.store import migrate
from runplane.store.db import Database


def create_api_key(
    settings: Settings, tenant: str = "default", name: str | None = None, role: str = "admin"
) -> str:
    """Create an API key for a tenant (created if new) and return it."""
    migrate.upgrade(settings.database_url)

    async def _create() -> str:
        db = Database(settings.database_url)
        try:
            return await auth.create_key(db, tenant, name, role)
        finally:
            await db.close()

    return asyncio.run(_create())
