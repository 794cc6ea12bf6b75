"""Managing a tenant's API keys through the API: create, list, revoke (admin keys only)."""

from runplane.domain.errors import Conflict, NotFound
from runplane.domain.models import ApiKeyRecord, Principal, utcnow
from runplane.domain.roles import Permission
from runplane.services import audit
from runplane.services.auth import forget_key, insert_new_key
from runplane.services.runtime import Runtime
from runplane.store import tenants as store


async def create_key(
    rt: Runtime, who: Principal, name: str | None, role: str, user_id: str | None
) -> tuple[str, ApiKeyRecord]:
    """A new key of the caller's tenant; the key itself is returned only here."""
    who.require(Permission.MANAGE_KEYS)
    async with rt.db.write() as conn:
        key, row = await insert_new_key(conn, who.tenant_id, name, role, user_id)
        await audit.record(
            conn, who, "key.created", "api_key", row["id"], {"role": role, "user_id": user_id}
        )
    return key, row


async def list_keys(rt: Runtime, who: Principal) -> list[ApiKeyRecord]:
    """The tenant's keys, live and revoked (never their secrets), newest first."""
    who.require(Permission.MANAGE_KEYS)
    async with rt.db.read() as conn:
        return await store.list_keys(conn, who.tenant_id)


async def revoke_key(rt: Runtime, who: Principal, key_id: str) -> ApiKeyRecord:
    """Revoke a key: its next request fails. The tenant's last admin key cannot go (409)."""
    who.require(Permission.MANAGE_KEYS)
    async with rt.db.write() as conn:
        row = await store.get_key(conn, who.tenant_id, key_id)
        if row is None:
            raise NotFound(f"no key {key_id!r}", [{"name": "key_id", "value": key_id}])
        if row["revoked_at"] is None:
            if (
                row["role"] == "admin"
                and await store.count_live_admin_keys(conn, who.tenant_id) < 2
            ):
                raise Conflict(
                    "this is the tenant's last admin key: create another admin key first",
                    [{"name": "key_id", "value": key_id}],
                )
            now = utcnow()
            await store.revoke_key(conn, key_id, now)
            await audit.record(conn, who, "key.revoked", "api_key", key_id, {"role": row["role"]})
            row = {**row, "revoked_at": now}
    forget_key(rt, key_id)
    return row
