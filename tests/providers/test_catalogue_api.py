"""``/v1/models`` (the catalogue and a tenant's prices) and ``/v1/model-providers`` (keys)."""

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from runplane import AsyncClient
from runplane.domain.errors import Invalid
from runplane.outbound import Policy
from runplane.providers.catalog import BUILTIN_MODELS
from runplane.providers.offline import OfflineProvider
from runplane.providers.openai import OpenAIProvider
from runplane.providers.retrying import RetryPolicy
from runplane.services.model_routing import ModelRouter
from runplane.services.models import model_info, require_model
from runplane.services.runtime import Runtime
from runplane.store import model_providers as providers_store
from runplane.store import tenants as tenants_store
from runplane.testing.model_stubs import ModelStub, Reply

LLAMA = {
    "provider": "openai",
    "context_window": 8192,
    "input_per_mtok": 0.1,
    "output_per_mtok": 0.2,
}


async def tenant_client(
    make_client: Callable[..., Any], role: str = "admin"
) -> tuple[httpx.AsyncClient, str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    return await make_client(role=role, tenant=name), name


async def tenant_id(rt: Runtime, name: str) -> str:
    async with rt.db.read() as conn:
        tenant = await tenants_store.get_tenant_by_name(conn, name)
    assert tenant is not None
    return str(tenant["id"])


async def test_the_catalogue_lists_the_built_in_models_with_their_prices(api: httpx.AsyncClient):
    r = await api.get("/v1/models")

    assert r.status_code == 200
    items = {m["name"]: m for m in r.json()["items"]}
    assert set(BUILTIN_MODELS) <= set(items)
    assert items["offline"] == {
        "name": "offline",
        "provider": "offline",
        "context_window": 1_000_000,
        "input_per_mtok": 0.0,
        "output_per_mtok": 0.0,
        "cached_per_mtok": 0.0,
        "source": "builtin",
    }
    assert (await api.get("/v1/models/gpt-4o-mini")).json()["provider"] == "openai"


async def test_a_tenant_entry_overrides_built_in_prices_for_that_tenant_only(
    make_client: Callable[..., Any], rt: Runtime
):
    api, name = await tenant_client(make_client)
    other, other_name = await tenant_client(make_client)
    override = {**LLAMA, "input_per_mtok": 9.0, "output_per_mtok": 18.0, "cached_per_mtok": 1.0}

    put = await api.put("/v1/models/gpt-4o-mini", json=override)
    added = await api.put("/v1/models/ollama/llama3.2", json=LLAMA)

    assert put.status_code == 200 and put.json()["source"] == "tenant"
    assert added.json()["name"] == "ollama/llama3.2"
    mine = await model_info(rt.db, await tenant_id(rt, name), "gpt-4o-mini")
    theirs = await model_info(rt.db, await tenant_id(rt, other_name), "gpt-4o-mini")
    assert mine is not None and mine.input_per_mtok == 9.0
    assert mine.credits({"input_tokens": 1_000_000, "output_tokens": 0}) == 900.0
    assert theirs == BUILTIN_MODELS["gpt-4o-mini"]
    listed = {m["name"]: m for m in (await api.get("/v1/models")).json()["items"]}
    assert listed["ollama/llama3.2"]["source"] == "tenant"
    assert "ollama/llama3.2" not in {
        m["name"] for m in (await other.get("/v1/models")).json()["items"]
    }

    assert (await api.delete("/v1/models/gpt-4o-mini")).status_code == 204
    assert (await api.get("/v1/models/gpt-4o-mini")).json()["source"] == "builtin"
    assert (await api.delete("/v1/models/gpt-4o-mini")).status_code == 404


async def test_an_unknown_model_is_named_in_the_error(api: httpx.AsyncClient, rt: Runtime):
    r = await api.get("/v1/models/no-such-model")
    assert r.status_code == 404 and "no-such-model" in r.json()["message"]

    with pytest.raises(Invalid) as caught:
        await require_model(rt.db, "any-tenant", "no-such-model")
    assert caught.value.details == [{"name": "model", "value": "no-such-model"}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**LLAMA, "provider": "llamafarm"}, "provider"),
        ({**LLAMA, "input_per_mtok": -1}, "input_per_mtok"),
        ({**LLAMA, "context_window": 0}, "context_window"),
        ({**LLAMA, "surprise": 1}, "surprise"),
    ],
)
async def test_a_bad_catalogue_entry_is_refused_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
):
    r = await api.put("/v1/models/my-model", json=body)

    assert r.status_code == 422
    assert field in r.text


async def test_only_admin_keys_change_the_catalogue_or_see_provider_keys(
    make_client: Callable[..., Any],
):
    member, _ = await tenant_client(make_client, role="member")

    assert (await member.get("/v1/models")).status_code == 200
    assert (await member.put("/v1/models/my-model", json=LLAMA)).status_code == 403
    assert (await member.get("/v1/model-providers")).status_code == 403
    body = {"kind": "openai", "api_key": "sk-member"}
    assert (await member.put("/v1/model-providers/mine", json=body)).status_code == 403


async def test_a_provider_key_is_stored_sealed_and_shown_masked(
    make_client: Callable[..., Any], rt: Runtime
):
    api, name = await tenant_client(make_client)
    secret = "sk-live-abcdefghijkl1234"

    r = await api.put(
        "/v1/model-providers/openai-main",
        json={
            "kind": "openai",
            "base_url": "https://api.openai.example/v1",
            "api_key": secret,
            "default": True,
        },
    )

    assert r.status_code == 200, r.text
    shown = r.json()
    assert shown["api_key"] == "…1234" and secret not in r.text and shown["default"] is True
    async with rt.db.read() as conn:
        row = await providers_store.get(conn, await tenant_id(rt, name), "openai-main")
    assert row is not None and row["api_key"] != secret and secret not in str(row["api_key"])
    assert rt.keys.open(row["api_key"]) == secret

    # Without a key, a change keeps the stored one; a second default takes over.
    again = await api.put("/v1/model-providers/openai-main", json={"kind": "openai"})
    assert again.json()["api_key"] == "…1234"
    await api.put(
        "/v1/model-providers/claude",
        json={"kind": "anthropic", "api_key": "sk-ant-9999", "default": True},
    )
    listed = {
        p["name"]: p["default"] for p in (await api.get("/v1/model-providers")).json()["items"]
    }
    assert listed == {"claude": True, "openai-main": False}
    audit = (await api.get("/v1/audit")).text
    assert secret not in audit and "sk-ant-9999" not in audit

    assert (await api.delete("/v1/model-providers/claude")).status_code == 204
    assert (await api.get("/v1/model-providers/claude")).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "llamafarm"}, "kind"),
        ({"kind": "anthropic"}, "api_key"),
        ({"kind": "openai", "base_url": "ftp://models.example"}, "base_url"),
    ],
)
async def test_a_bad_provider_is_refused_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
):
    r = await api.put("/v1/model-providers/bad", json=body)

    assert r.status_code == 422, r.text
    assert field in r.text


async def test_a_model_call_goes_to_the_tenants_provider_for_the_models_provider(
    make_client: Callable[..., Any], rt: Runtime
):
    api, name = await tenant_client(make_client)
    tenant = await tenant_id(rt, name)
    router = ModelRouter(
        rt.db, rt.keys, None, policy=Policy(allow_private=True), retry=RetryPolicy(1), timeout=10
    )
    with ModelStub() as stub:
        stub.script(Reply(text="from the tenant's llama"))
        await api.put(
            "/v1/model-providers/local",
            json={"kind": "openai", "base_url": stub.openai_url, "api_key": "sk-tenant-5678"},
        )
        await api.put("/v1/models/llama3", json={**LLAMA, "provider": "local"})

        chosen = await router.provider_for(tenant, "llama3")
        reply = await chosen.complete([{"role": "user", "content": "hi"}], model="llama3")

        assert isinstance(chosen, OpenAIProvider)
        assert reply.text == "from the tenant's llama" and stub.requests[0]["model"] == "llama3"
        assert stub.headers[0]["authorization"] == "Bearer sk-tenant-5678"
        # The offline model, and any call while the tenant has no default provider and
        # the server none: the offline provider.
        assert isinstance(await router.provider_for(tenant, "offline"), OfflineProvider)
        assert isinstance(await router.provider_for(tenant, None), OfflineProvider)
        # A built-in OpenAI model finds the tenant's only OpenAI-kind provider.
        assert await router.provider_for(tenant, "gpt-4o-mini") is chosen
        await router.aclose()


async def test_the_client_reads_and_writes_the_catalogue_and_providers(
    app: Any, make_client: Callable[..., Any]
):
    api = await make_client()
    key = api.headers["Authorization"].removeprefix("Bearer ")
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("http://runplane.test", key, transport=transport) as client:
        entry = await client.models.put(
            "ollama/qwen3",
            provider="openai",
            context_window=32_000,
            input_per_mtok=0,
            output_per_mtok=0,
        )
        provider = await client.models.put_provider(
            "local", "openai", base_url="http://127.0.0.1:11434/v1", api_key="sk-abcd9876"
        )

        assert entry.name == "ollama/qwen3" and entry.source == "tenant"
        assert (await client.models.get("ollama/qwen3")).context_window == 32_000
        assert provider.api_key == "…9876"
        assert [p.name for p in (await client.models.list_providers()).items] == ["local"]
        await client.models.delete("ollama/qwen3")
        await client.models.delete_provider("local")
        assert "ollama/qwen3" not in {m.name for m in (await client.models.list()).items}
