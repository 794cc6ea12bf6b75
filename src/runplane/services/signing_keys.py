"""Tenants' Ed25519 keys that sign evidence bundles: made on first need, rotated by admins.

The private half is sealed with the server's credential keys (as connections' secrets
are); the public half is published (``GET /v1/governance/keys``). A rotated key is
retired, not deleted: bundles it signed still verify against it.
"""

from runplane.domain.errors import Conflict
from runplane.domain.evidence import ALGORITHM, Signer, new_key_pair
from runplane.domain.ids import new_id
from runplane.domain.models import Principal, SigningKeyRecord, utcnow
from runplane.domain.roles import Permission
from runplane.services import audit
from runplane.services.runtime import Runtime
from runplane.store import evidence as store
from runplane.store.db import Conn


def _new_key(rt: Runtime, tenant_id: str) -> SigningKeyRecord:
    private_pem, public_pem = new_key_pair()
    return {
        "id": new_id("sgk"),
        "tenant_id": tenant_id,
        "algorithm": ALGORITHM,
        "public_key": public_pem,
        "private_key": rt.keys.seal(private_pem),
        "created_at": utcnow(),
        "retired_at": None,
    }


async def signer(rt: Runtime, tenant_id: str) -> Signer:
    """The tenant's active signer, its key made now if it has none.

    Of two processes making the first key at once, the unique index keeps one: the
    other's insert does nothing and it reads the winner's key.
    """
    async with rt.db.read() as conn:
        key = await store.active_key(conn, tenant_id)
    if key is None:
        async with rt.db.write() as conn:
            await store.insert_key_if_none_active(conn, _new_key(rt, tenant_id))
        async with rt.db.read() as conn:
            key = await store.active_key(conn, tenant_id)
    assert key is not None
    return _signer_of(rt, key)


def _signer_of(rt: Runtime, key: SigningKeyRecord) -> Signer:
    private_pem = rt.keys.open(key["private_key"])
    if private_pem is None:
        raise Conflict(
            f"signing key {key['id']} cannot be opened with this server's keys "
            "(RUNPLANE_ENCRYPTION_KEY changed?): rotate the signing key"
        )
    return Signer(key["id"], private_pem)


async def list_keys(rt: Runtime, who: Principal) -> list[SigningKeyRecord]:
    """The tenant's keys, newest first (any key may read the public halves)."""
    async with rt.db.read() as conn:
        return await store.list_keys(conn, who.tenant_id)


async def rotate(rt: Runtime, who: Principal) -> SigningKeyRecord:
    """Retire the active key and make a new one (admins); old bundles keep verifying."""
    who.require(Permission.GOVERN)
    new = _new_key(rt, who.tenant_id)
    async with rt.db.write() as conn:
        retired = await store.retire_keys(conn, who.tenant_id, new["created_at"])
        await _insert_rotated(conn, new)
        await audit.record(
            conn, who, "signing_key.rotated", "signing_key", new["id"], {"retired": list(retired)}
        )
    return new


async def _insert_rotated(conn: Conn, new: SigningKeyRecord) -> None:
    if not await store.insert_key_if_none_active(conn, new):
        raise Conflict("another rotation of the signing key is under way: try again")
