"""A tenant's own model providers: an OpenAI-compatible or Anthropic endpoint and its key.

Admin keys only. The API key is sealed at rest (``Keys``, as connections' secrets are),
never answered back (only its last four characters), never logged nor audited. A
provider marked ``default`` answers the tenant's calls that name no model; see
``services.model_routing`` for how a model call finds its provider.
"""

from runplane import outbound
from runplane.domain.errors import Invalid, NotFound
from runplane.domain.json import JSONObject
from runplane.domain.models import ModelProviderRecord, Principal, utcnow
from runplane.domain.roles import Permission
from runplane.services import audit
from runplane.services.runtime import Runtime
from runplane.store import model_providers as store

KINDS = ("openai", "anthropic")
HINT_CHARS = 4


def masked(row: ModelProviderRecord) -> str | None:
    """The key as shown: its last characters only."""
    return None if row["key_hint"] is None else f"…{row['key_hint']}"


def _missing(name: str) -> NotFound:
    return NotFound(f"no model provider {name!r}", [{"name": "name", "value": name}])


async def put_provider(
    rt: Runtime,
    who: Principal,
    name: str,
    *,
    kind: str,
    base_url: str | None,
    api_key: str | None,
    default_model: str | None,
    is_default: bool,
) -> ModelProviderRecord:
    """Add or change a model provider; a missing ``api_key`` keeps the stored one."""
    who.require(Permission.MANAGE_INTEGRATIONS)
    if kind not in KINDS:
        raise Invalid.field(
            "kind", f"unknown provider kind {kind!r}: use openai or anthropic", kind
        )
    if base_url is not None:
        try:
            outbound.check_url(outbound.Policy(allow_private=True), base_url)
        except outbound.Refused as exc:
            raise Invalid.field("base_url", f"not a usable base URL: {exc}", base_url) from None
    now = utcnow()
    async with rt.db.write() as conn:
        old = await store.get(conn, who.tenant_id, name)
        sealed = rt.keys.seal(api_key) if api_key else (old["api_key"] if old else None)
        hint = api_key[-HINT_CHARS:] if api_key else (old["key_hint"] if old else None)
        if kind == "anthropic" and sealed is None:
            raise Invalid.field("api_key", "an anthropic provider needs an API key")
        row: ModelProviderRecord = {
            "tenant_id": who.tenant_id,
            "name": name,
            "kind": kind,
            "base_url": base_url,
            "api_key": sealed,
            "key_hint": hint,
            "default_model": default_model,
            "is_default": is_default,
            "created_at": old["created_at"] if old is not None else now,
            "updated_at": now,
        }
        await store.put(conn, row)
        if is_default:
            await store.clear_default(conn, who.tenant_id, name)
        # The audit trail says that the key changed, never what it is.
        changes: JSONObject = {"kind": kind, "base_url": base_url, "key_changed": bool(api_key)}
        await audit.record(conn, who, "model_provider.put", "model_provider", name, changes)
    rt.hooks.models.forget(who.tenant_id)
    return row


async def list_providers(rt: Runtime, who: Principal) -> list[ModelProviderRecord]:
    """The tenant's model providers, by name (admin keys)."""
    who.require(Permission.MANAGE_INTEGRATIONS)
    async with rt.db.read() as conn:
        return await store.list_for_tenant(conn, who.tenant_id)


async def get_provider(rt: Runtime, who: Principal, name: str) -> ModelProviderRecord:
    """One of the tenant's model providers (admin keys)."""
    who.require(Permission.MANAGE_INTEGRATIONS)
    async with rt.db.read() as conn:
        row = await store.get(conn, who.tenant_id, name)
    if row is None:
        raise _missing(name)
    return row


async def delete_provider(rt: Runtime, who: Principal, name: str) -> None:
    """Remove a model provider and its key (admin keys)."""
    who.require(Permission.MANAGE_INTEGRATIONS)
    async with rt.db.write() as conn:
        found = await store.delete(conn, who.tenant_id, name)
        if found:
            await audit.record(conn, who, "model_provider.deleted", "model_provider", name, {})
    if not found:
        raise _missing(name)
    rt.hooks.models.forget(who.tenant_id)
