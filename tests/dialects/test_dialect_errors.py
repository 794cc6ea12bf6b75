"""Errors the app answers before any route (or with none) come in each dialect's model."""

import httpx
import pytest

pytestmark = pytest.mark.database_independent


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/toolregistry/v1/runs", {"statusCode", "message", "error", "details"}),
        ("/agdev/v0.1/agents", {"error"}),
        ("/v1/runs", {"status_code", "message", "details"}),
    ],
)
async def test_a_nul_in_the_url_and_a_body_too_large_are_answered_in_the_dialects_model(
    api: httpx.AsyncClient, path: str, shape: set[str]
) -> None:
    r = await api.get(path, params={"q": "a\x00b"})
    assert r.status_code == 400
    assert set(r.json()) == shape, r.json()

    r = await api.post(path, content=b"{" + b" " * 11_000_000 + b"}")
    assert r.status_code == 413
    assert set(r.json()) == shape, r.json()


async def test_an_unknown_path_under_a_dialect_is_a_404_in_its_model(
    api: httpx.AsyncClient,
) -> None:
    r = await api.get("/toolregistry/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["statusCode"] == 404
