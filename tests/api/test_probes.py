"""``/livez`` and ``/readyz`` of the in-process app: both answer 200, without a key."""

import httpx

from runplane.services.runtime import Runtime
from runplane.store import migrate


async def test_livez_answers_without_a_key(anonymous: httpx.AsyncClient) -> None:
    live = await anonymous.get("/livez")

    assert live.status_code == 200
    assert live.json() == {"status": "ok"}


async def test_readyz_reports_each_check_ok(anonymous: httpx.AsyncClient, rt: Runtime) -> None:
    ready = await anonymous.get("/readyz")

    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "worker": "ok"},
    }
    # Seen current once, the schema is not asked again.
    assert rt.schema_current
    assert migrate.head()


async def test_readyz_declares_its_503_in_the_openapi_document(
    anonymous: httpx.AsyncClient,
) -> None:
    doc = (await anonymous.get("/openapi.json")).json()

    responses = doc["paths"]["/readyz"]["get"]["responses"]
    assert {"200", "503"} <= set(responses)
    assert "200" in doc["paths"]["/livez"]["get"]["responses"]
