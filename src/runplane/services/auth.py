"""API keys: creating them, and turning a presented key into a Principal."""

import hashlib
import secrets
import time

from runplane.domain.errors import Invalid, Unauthorized
from runplane.domain.ids import new_id
from runplane.domain.models import Principal, utcnow
from runplane.services.runtime import Runtime
from runplane.store import tenants as store
from runplane.store.db import Database

KEY_PREFIX = "rp_"
CACHE_SECONDS = 10.0
ROLES = ("admin", "member")


def hash_key(key: str) -> str:
    """Keys are random 256-bit secrets, so one SHA-256 is enough to store them safely."""
    return hashlib.sha256(key.encode()).hexdigest()


async def create_key(db: Database, tenant: str, name: str | None, role: str) -> str:
    """Create an API key (and the tenant, if new); return the key, shown only once."""
    if role not in ROLES:
        raise Invalid.field("role", f"role must be one of {', '.join(ROLES)}", role)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    async with db.write() as conn:
        row = await store.get_tenant_by_name(conn, tenant)
        if row is None:
            tenant_id = new_id("ten")
            await store.insert_tenant(conn, tenant_id, tenant, now)
        else:
            tenant_id = row["id"]
        await store.insert_key(
            conn,
            id=new_id("key"),
            tenant_id=tenant_id,
            name=name,
            prefix=key[:10],
            key_hash=hash_key(key),
            role=role,
            created_at=now,
        )
    return key


async def authenticate(rt: Runtime, key: str | None) -> Principal:
    """The principal a key stands for; revocations take effect within CACHE_SECONDS."""
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
        raise Unauthorized("the API key is not valid")
    who = Principal(tenant_id=row["tenant_id"], key_id=row["id"], role=row["role"])
    rt.key_cache[digest] = (time.monotonic() + CACHE_SECONDS, who)
    return who
