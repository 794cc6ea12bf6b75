"""Pricing model usage: the one function every credit figure goes through."""

from runplane.providers.catalog import ModelInfo
from runplane.services.models import model_info
from runplane.store.db import Database


async def price_of(db: Database, tenant_id: str, model: str) -> ModelInfo | None:
    """The prices of a model for a tenant: its own catalogue entry, else the built-in one."""
    return await model_info(db, tenant_id, model)
