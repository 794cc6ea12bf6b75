"""API keys: both headers work; a missing or wrong key is a 401 in the error model."""

import httpx

from runplane.services.auth import hash_key


async def test_missing_key_is_a_401(anonymous: httpx.AsyncClient) -> None:
    r = await anonymous.get("/v1/runs")
    assert r.status_code == 401 and r.json()["status_code"] == 401
    assert r.headers["www-authenticate"] == "Bearer"


async def test_wrong_key_is_a_401(anonymous: httpx.AsyncClient) -> None:
    r = await anonymous.get("/v1/runs", headers={"Authorization": "Bearer rp_wrong"})
    assert r.status_code == 401 and r.json()["message"] == "the API key is not valid"
    r = await anonymous.get("/v1/runs", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401


async def test_both_auth_headers_are_accepted(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    key = api.headers["Authorization"].split(" ", 1)[1]
    assert (await anonymous.get("/v1/runs", headers={"x-api-key": key})).status_code == 200
    assert (
        await anonymous.get("/v1/runs", headers={"Authorization": f"Bearer {key}"})
    ).status_code == 200


async def test_keys_are_stored_hashed(api: httpx.AsyncClient, rt) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from runplane.store.schema import api_keys

    key = api.headers["Authorization"].split(" ", 1)[1]
    async with rt.db.read() as conn:
        rows = (await conn.execute(sa.select(api_keys))).mappings().all()
    assert all(key not in str(dict(r)) for r in rows)
    assert hash_key(key) in {r["key_hash"] for r in rows}


async def test_health_and_openapi_need_no_key(anonymous: httpx.AsyncClient) -> None:
    h = await anonymous.get("/healthz")
    assert h.status_code == 200 and h.json()["status"] == "ok"
    spec = (await anonymous.get("/openapi.json")).json()
    assert "/v1/runs" in spec["paths"] and "/v1/runs/{run_id}/stream" in spec["paths"]
    assert (
        spec["paths"]["/v1/runs"]["post"]["description"]
        or spec["paths"]["/v1/runs"]["post"]["summary"]
    )
