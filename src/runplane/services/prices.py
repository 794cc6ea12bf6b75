"""Pricing model usage: the one function every credit figure goes through."""

from runplane.providers.catalog import ModelInfo, find_model
from runplane.store.db import Database


async def price_of(db: Database, tenant_id: str, model: str) -> ModelInfo | None:
    """The prices of a model for a tenant (None: not in the catalogue).

    The tenant's own catalogue entries come first once they exist
    (``services/models.model_info``); until then, the built-in catalogue.
    """
    del db, tenant_id
    return find_model(model)
