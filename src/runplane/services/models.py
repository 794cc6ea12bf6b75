"""The model catalogue: built-in models and a tenant's own entries (its price table).

A tenant's entry for a name wins over the built-in one; an entry names the provider that
serves it (``openai``, ``anthropic``, ``offline``, or one of the tenant's model
providers by name), its context window and its prices in US dollars per million tokens.
"""

from runplane.domain.errors import Invalid, NotFound
from runplane.domain.models import Principal, TenantModelRecord, utcnow
from runplane.domain.roles import Permission
from runplane.providers import PROVIDERS
from runplane.providers.catalog import BUILTIN_MODELS, ModelInfo, find_model
from runplane.services import audit
from runplane.services.model_routing import info_of
from runplane.services.prices import price_of
from runplane.services.runtime import Runtime
from runplane.store import model_catalog as store
from runplane.store import model_providers as providers_store
from runplane.store.db import Database

BUILTIN = "builtin"
TENANT = "tenant"


async def model_info(db: Database, tenant_id: str, name: str) -> ModelInfo | None:
    """The catalogue's entry for a model name: the tenant's own, else the built-in one."""
    return await price_of(db, tenant_id, name)


async def require_model(db: Database, tenant_id: str, name: str) -> ModelInfo:
    """The catalogue's entry for a model name; ``Invalid`` naming the model if none."""
    found = await model_info(db, tenant_id, name)
    if found is None:
        raise Invalid.field("model", f"unknown model {name!r}: not in the model catalogue", name)
    return found


async def list_models(rt: Runtime, who: Principal) -> list[tuple[ModelInfo, str]]:
    """Every model the tenant may name, with where its entry comes from, by name."""
    async with rt.db.read() as conn:
        own = {r["name"]: info_of(r) for r in await store.list_for_tenant(conn, who.tenant_id)}
    merged = {name: (info, BUILTIN) for name, info in BUILTIN_MODELS.items()}
    merged.update({name: (info, TENANT) for name, info in own.items()})
    return [merged[name] for name in sorted(merged)]


async def get_model(rt: Runtime, who: Principal, name: str) -> tuple[ModelInfo, str]:
    """One model of the catalogue, and where its entry comes from."""
    async with rt.db.read() as conn:
        row = await store.get(conn, who.tenant_id, name)
    if row is not None:
        return info_of(row), TENANT
    found = find_model(name)
    if found is None:
        raise NotFound(f"no model {name!r} in the catalogue", [{"name": "name", "value": name}])
    return found, BUILTIN


async def put_model(rt: Runtime, who: Principal, info: ModelInfo) -> ModelInfo:
    """Add or change the tenant's own entry for a model (admin keys)."""
    who.require(Permission.MANAGE_INTEGRATIONS)
    now = utcnow()
    async with rt.db.write() as conn:
        if info.provider not in PROVIDERS:
            named = await providers_store.get(conn, who.tenant_id, info.provider)
            if named is None:
                raise Invalid.field(
                    "provider",
                    f"unknown provider {info.provider!r}: use {', '.join(PROVIDERS)} "
                    "or the name of one of the tenant's model providers",
                    info.provider,
                )
        old = await store.get(conn, who.tenant_id, info.name)
        row: TenantModelRecord = {
            "tenant_id": who.tenant_id,
            "name": info.name,
            "provider": info.provider,
            "context_window": info.context_window,
            "input_per_mtok": info.input_per_mtok,
            "output_per_mtok": info.output_per_mtok,
            "cached_per_mtok": info.cached_per_mtok,
            "created_at": old["created_at"] if old is not None else now,
            "updated_at": now,
        }
        await store.put(conn, row)
        await audit.record(
            conn,
            who,
            "model.put",
            "model",
            info.name,
            {
                "provider": info.provider,
                "input_per_mtok": info.input_per_mtok,
                "output_per_mtok": info.output_per_mtok,
            },
        )
    rt.hooks.models.forget(who.tenant_id)
    return info


async def delete_model(rt: Runtime, who: Principal, name: str) -> None:
    """Remove the tenant's own entry (a built-in one applies again, if there is one)."""
    who.require(Permission.MANAGE_INTEGRATIONS)
    async with rt.db.write() as conn:
        found = await store.delete(conn, who.tenant_id, name)
        if found:
            await audit.record(conn, who, "model.deleted", "model", name, {})
    if not found:
        raise NotFound(
            f"the tenant has no entry of its own for model {name!r}",
            [{"name": "name", "value": name}],
        )
    rt.hooks.models.forget(who.tenant_id)
