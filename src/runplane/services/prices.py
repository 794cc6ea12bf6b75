"""Pricing model usage: the one function every credit figure goes through."""

from runplane.providers.catalog import ModelInfo, find_model
from runplane.services.model_routing import info_of
from runplane.store import model_catalog
from runplane.store.db import Database


async def price_of(db: Database, tenant_id: str, model: str) -> ModelInfo | None:
    """The prices of a model for a tenant: its own catalogue entry, else the built-in one."""
    async with db.read() as conn:
        row = await model_catalog.get(conn, tenant_id, model)
    return info_of(row) if row is not None else find_model(model)
