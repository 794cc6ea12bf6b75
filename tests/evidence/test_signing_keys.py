"""Per-tenant signing keys: made on first need, one active at a time, rotated by admins."""

import asyncio
import uuid

import httpx
from evidence_helpers import bundle_of, ended, public_keys

from runplane.domain.evidence import verify_bundle
from runplane.services import signing_keys
from runplane.services.runtime import Runtime


async def test_rotation_keeps_old_bundles_verifying_with_the_old_key(
    api: httpx.AsyncClient,
) -> None:
    assert (await api.get("/v1/governance/keys")).json()["items"] == []
    old_bundle = await bundle_of(api, (await ended(api))["id"])
    [old] = (await api.get("/v1/governance/keys")).json()["items"]
    assert old["active"] and old["algorithm"] == "Ed25519"
    assert old["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert "private_key" not in old

    r = await api.post("/v1/governance/keys/rotate")
    assert r.status_code == 201, r.text
    new = r.json()
    keys = (await api.get("/v1/governance/keys")).json()["items"]
    assert [k["id"] for k in keys] == [new["id"], old["id"]]
    assert keys[0]["active"] and not keys[1]["active"] and keys[1]["retired_at"]

    assert verify_bundle(old_bundle, [old["public_key"]]).ok
    assert verify_bundle(old_bundle, [k["public_key"] for k in keys]).ok
    assert verify_bundle(old_bundle, [new["public_key"]]).signature == "wrong_key"
    new_bundle = await bundle_of(api, (await ended(api))["id"])
    assert verify_bundle(new_bundle, [new["public_key"]]).ok
    assert not verify_bundle(new_bundle, [old["public_key"]]).ok

    audit = (await api.get("/v1/audit-events")).json()["items"]
    rotated = [e for e in audit if e["action"] == "signing_key.rotated"]
    assert rotated and rotated[0]["target_id"] == new["id"]
    assert rotated[0]["data"]["retired"] == [old["id"]]


async def test_only_admins_rotate_and_each_tenant_sees_its_own_keys(
    make_client: object,
) -> None:
    tenant = f"t-keys-{uuid.uuid4().hex[:8]}"
    admin = await make_client("admin", tenant)  # type: ignore[operator]
    member = await make_client("member", tenant)  # type: ignore[operator]
    other = await make_client()  # type: ignore[operator]
    await bundle_of(admin, (await ended(admin))["id"])
    assert (await member.post("/v1/governance/keys/rotate")).status_code == 403
    assert await public_keys(member) == await public_keys(admin)
    assert await public_keys(other) == []


async def test_two_first_bundles_at_once_make_one_active_key(rt: Runtime) -> None:
    tenant = f"t-race-{uuid.uuid4().hex[:8]}"
    signers = await asyncio.gather(*(signing_keys.signer(rt, tenant) for _ in range(4)))
    assert len({s.key_id for s in signers}) == 1
    async with rt.db.read() as conn:
        from runplane.store import evidence as store

        keys = await store.list_keys(conn, tenant)
    assert len(keys) == 1 and keys[0]["retired_at"] is None
    assert rt.keys.open(keys[0]["private_key"]) == signers[0].private_pem
    assert "PRIVATE KEY" not in keys[0]["private_key"]  # sealed
