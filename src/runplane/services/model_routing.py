"""Which provider answers a run's model call: the tenant's, the server's, or offline.

A model name resolves through the catalogue (the tenant's entry over the built-in one)
to a provider: one of the tenant's model providers of that name, else its default one of
that kind, else the first of that kind; else the server's provider (the settings) when it
is of that kind; else the offline provider. A call that names no model (or a model not in
the catalogue) goes to the tenant's default provider, else the server's, else offline.

Each process keeps a tenant's providers and catalogue entries for a few seconds; a
change made through this process is seen at once (``forget``).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from runplane import outbound
from runplane.domain.models import ModelProviderRecord, TenantModelRecord
from runplane.providers import ModelProvider, OfflineProvider
from runplane.providers.catalog import ModelInfo, find_model
from runplane.providers.retrying import RetryPolicy
from runplane.services.crypto import Keys
from runplane.store import model_catalog, model_providers
from runplane.store.db import Database

CACHE_SECONDS = 5.0


def info_of(row: TenantModelRecord) -> ModelInfo:
    """A tenant's catalogue row as a ``ModelInfo``."""
    return ModelInfo(
        row["name"],
        row["provider"],
        row["context_window"],
        row["input_per_mtok"],
        row["output_per_mtok"],
        row["cached_per_mtok"],
    )


def build_tenant_provider(
    row: ModelProviderRecord,
    keys: Keys,
    policy: outbound.Policy,
    retry: RetryPolicy,
    timeout: float,
) -> ModelProvider:
    """The provider client of a tenant's ``model_providers`` row (its key unsealed here)."""
    api_key = keys.open(row["api_key"]) if row["api_key"] else None
    options = {
        "model": row["default_model"],
        "base_url": row["base_url"],
        "api_key": api_key,
        "policy": policy,
        "retry": retry,
        "timeout": timeout,
    }
    if row["kind"] == "anthropic":
        from runplane.providers.anthropic import AnthropicProvider

        return AnthropicProvider(**options)  # type: ignore[arg-type]
    from runplane.providers.openai import OpenAIProvider

    return OpenAIProvider(**options)  # type: ignore[arg-type]


@dataclass
class _Tenant:
    until: float
    providers: list[ModelProviderRecord]
    models: dict[str, ModelInfo]


class ModelRouter:
    """Picks (and keeps) the provider of each model call of a tenant's runs."""

    def __init__(
        self,
        db: Database,
        keys: Keys,
        server: ModelProvider | None,
        *,
        policy: outbound.Policy,
        retry: RetryPolicy,
        timeout: float,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.db = db
        self.keys = keys
        self.server = server
        self.policy = policy
        self.retry = retry
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self.offline = OfflineProvider()
        self._tenants: dict[str, _Tenant] = {}
        self._built: dict[tuple[str, str], tuple[object, ModelProvider]] = {}

    def forget(self, tenant_id: str) -> None:
        """Drop what is kept of a tenant (its providers or catalogue changed)."""
        self._tenants.pop(tenant_id, None)

    async def _tenant(self, tenant_id: str) -> _Tenant:
        kept = self._tenants.get(tenant_id)
        if kept is not None and kept.until > time.monotonic():
            return kept
        async with self.db.read() as conn:
            providers = await model_providers.list_for_tenant(conn, tenant_id)
            models = await model_catalog.list_for_tenant(conn, tenant_id)
        kept = _Tenant(
            time.monotonic() + self.cache_seconds,
            providers,
            {r["name"]: info_of(r) for r in models},
        )
        self._tenants[tenant_id] = kept
        return kept

    async def model_info(self, tenant_id: str, name: str) -> ModelInfo | None:
        """The catalogue's entry for a model name (kept a few seconds)."""
        tenant = await self._tenant(tenant_id)
        return tenant.models.get(name) or find_model(name)

    async def knows(self, tenant_id: str) -> Callable[[str], bool]:
        """A check of model names against the tenant's catalogue (its entries, the built-in)."""
        own = frozenset((await self._tenant(tenant_id)).models)
        return lambda name: name in own or find_model(name) is not None

    async def provider_for(self, tenant_id: str, model: str | None) -> ModelProvider:
        """The provider that answers a call of ``model`` in a run of the tenant."""
        tenant = await self._tenant(tenant_id)
        info = (tenant.models.get(model) or find_model(model)) if model else None
        wanted = info.provider if info is not None else None
        if wanted == "offline":
            return self.offline
        row = _pick(tenant.providers, wanted)
        if row is not None:
            return self._client(row)
        if self.server is not None and wanted in (None, self.server.name):
            return self.server
        return self.offline

    def _client(self, row: ModelProviderRecord) -> ModelProvider:
        key, version = (row["tenant_id"], row["name"]), row["updated_at"]
        built = self._built.get(key)
        if built is not None and built[0] == version:
            return built[1]
        provider = build_tenant_provider(row, self.keys, self.policy, self.retry, self.timeout)
        self._built[key] = (version, provider)
        return provider

    async def aclose(self) -> None:
        """Close the tenants' provider clients."""
        for _, provider in self._built.values():
            await provider.aclose()
        self._built.clear()


def _pick(rows: list[ModelProviderRecord], wanted: str | None) -> ModelProviderRecord | None:
    if wanted is None:
        return next((r for r in rows if r["is_default"]), None)
    named = next((r for r in rows if r["name"] == wanted), None)
    if named is not None:
        return named
    of_kind = [r for r in rows if r["kind"] == wanted]
    return next((r for r in of_kind if r["is_default"]), of_kind[0] if of_kind else None)
