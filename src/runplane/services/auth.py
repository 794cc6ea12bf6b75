"""API keys: creating them, and turning a presented key into a Principal."""

import hashlib
import secrets
import time

from runplane.domain.errors import Invalid, Unauthorized
from runplane.domain.ids import new_id
from runplane.domain.models import ApiKeyRecord, Principal, utcnow
from runplane.domain.roles import ROLES
from runplane.services.runtime import Runtime
from runplane.store import tenants as store
from runplane.store.db import Conn, Database

KEY_PREFIX = "rp_"
# A key revoked through this process fails on its next request here (its entry is
# dropped); other processes notice within this many seconds, their cache's lifetime.
CACHE_SECONDS = 2.0


def hash_key(key: str) -> str:
    """Keys are random 256-bit secrets, so one SHA-256 is enough to store them safely."""
    return hashlib.sha256(key.encode()).hexdigest()


def check_role(role: str) -> None:
    """Refuse a role that is not in the permission table (422 naming ``role``)."""
    if role not in ROLES:
        raise Invalid.field("role", f"role must be one of {', '.join(ROLES)}", role)


async def insert_new_key(
    conn: Conn, tenant_id: str, name: str | None, role: str, user_id: str | None
) -> tuple[str, ApiKeyRecord]:
    """Make and store a key of the tenant; return the key (shown once) and its row."""
    check_role(role)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row: ApiKeyRecord = {
        "id": new_id("key"),
        "tenant_id": tenant_id,
        "name": name,
        "prefix": key[:10],
        "key_hash": hash_key(key),
        "role": role,
        "user_id": user_id,
        "created_at": utcnow(),
        "revoked_at": None,
    }
    await store.insert_key(conn, **row)
    return key, row


async def create_key(
    db: Database, tenant: str, name: str | None, role: str, user_id: str | None = None
) -> str:
    """Create an API key (and the tenant, if new); return the key, shown only once."""
    check_role(role)
    async with db.write() as conn:
        row = await store.get_tenant_by_name(conn, tenant)
        if row is None:
            tenant_id = new_id("ten")
            await store.insert_tenant(conn, tenant_id, tenant, utcnow())
        else:
            tenant_id = row["id"]
        key, _ = await insert_new_key(conn, tenant_id, name, role, user_id)
    return key


async def authenticate(rt: Runtime, key: str | None) -> Principal:
    """The principal a key stands for; revocations elsewhere take effect within CACHE_SECONDS."""
    if not key:
        raise Unauthorized("an API key is required: Authorization: Bearer KEY or x-api-key")
    digest = hash_key(key)
    hit = rt.key_cache.get(digest)
    if hit is not None and hit[0] > time.monotonic():
        assert isinstance(hit[1], Principal)
        return hit[1]
    async with rt.db.read() as conn:
        row = await store.find_key(conn, digest)
    if row is None:
        rt.key_cache.pop(digest, None)
        raise Unauthorized("the API key is not valid")
    who = Principal(
        tenant_id=row["tenant_id"], key_id=row["id"], role=row["role"], user_id=row["user_id"]
    )
    rt.key_cache[digest] = (time.monotonic() + CACHE_SECONDS, who)
    return who


def forget_key(rt: Runtime, key_id: str) -> None:
    """Drop a key from this process's cache, so that its next request is checked again."""
    for digest, (_, who) in list(rt.key_cache.items()):
        if who.key_id == key_id:
            rt.key_cache.pop(digest, None)
