"""``GET /v1/governance/activity``: filters and their combinations, keyset paging, bad
input, tenant isolation and roles."""

from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

URL = "/v1/governance/activity"


async def fill(api: httpx.AsyncClient) -> dict[str, str]:
    """A small, known history: two sites made, one deleted, a key made and revoked."""
    a = (await api.post("/v1/sites", json={"name": "alpha"})).json()["id"]
    b = (await api.post("/v1/sites", json={"name": "beta"})).json()["id"]
    assert (await api.delete(f"/v1/sites/{b}")).status_code == 204
    key = (await api.post("/v1/keys", json={"name": "k", "role": "member"})).json()["id"]
    assert (await api.delete(f"/v1/keys/{key}")).status_code == 204
    return {"alpha": a, "beta": b, "key": key}


async def items(api: httpx.AsyncClient, **params: object) -> list[dict]:
    r = await api.get(URL, params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_the_log_is_newest_first_with_who_did_what(api: httpx.AsyncClient) -> None:
    ids = await fill(api)
    rows = await items(api)
    assert [(r["action"], r["target_id"]) for r in rows] == [
        ("key.revoked", ids["key"]),
        ("key.created", ids["key"]),
        ("site.deleted", ids["beta"]),
        ("site.created", ids["beta"]),
        ("site.created", ids["alpha"]),
    ]
    first = rows[-1]
    assert first["object"] == "audit_event" and first["actor_type"] == "api"
    assert first["actor_role"] == "admin" and first["data"] == {"name": "alpha"}
    assert first["actor_key_id"].startswith("key_")


async def test_filters_narrow_alone_and_together(api: httpx.AsyncClient) -> None:
    ids = await fill(api)
    assert len(await items(api, resource="site")) == 3
    assert [r["action"] for r in await items(api, resource="site", resource_id=ids["beta"])] == [
        "site.deleted",
        "site.created",
    ]
    assert len(await items(api, action="site.")) == 3  # a prefix
    assert len(await items(api, action="site.created")) == 2  # exact
    assert await items(api, action="site") == []  # exact, and no such action
    assert await items(api, action="%.") == []  # a wildcard is a character, not a pattern
    actor = (await items(api))[0]["actor_key_id"]
    assert len(await items(api, actor=actor)) == 5
    assert await items(api, actor="key_someone_else") == []
    assert len(await items(api, actor_type="api", action="key.")) == 2
    assert await items(api, actor_type="system") == []
    combined = await items(api, actor=actor, resource="site", action="site.created")
    assert {r["target_id"] for r in combined} == {ids["alpha"], ids["beta"]}


async def test_since_and_until_bound_the_time_inclusively(api: httpx.AsyncClient) -> None:
    await fill(api)
    rows = await items(api)
    middle = rows[2]["at"]
    after = await items(api, since=middle)
    before = await items(api, until=middle)
    assert [r["id"] for r in after] == [r["id"] for r in rows if r["at"] >= middle]
    assert [r["id"] for r in before] == [r["id"] for r in rows if r["at"] <= middle]
    assert middle in {r["at"] for r in after} & {r["at"] for r in before}
    later = datetime.fromisoformat(rows[0]["at"].replace("Z", "+00:00")) + timedelta(hours=1)
    assert await items(api, since=later.isoformat()) == []
    # An offset other than UTC means the same instant.
    shifted = later.astimezone(datetime.now().astimezone().tzinfo).isoformat()
    assert await items(api, since=shifted) == []


async def test_pages_follow_continuation_tokens_to_the_end_without_gaps(
    api: httpx.AsyncClient,
) -> None:
    await fill(api)
    everything = [r["id"] for r in await items(api)]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, object] = {"limit": 2}
        if token:
            params["continuation_token"] = token
        page = (await api.get(URL, params=params)).json()
        seen += [r["id"] for r in page["items"]]
        pages += 1
        token = page["continuation_token"]
        if token is None:
            break
    assert seen == everything and pages == 3
    # A token keeps the filter it is used with.
    first = (await api.get(URL, params={"limit": 1, "resource": "site"})).json()
    rest = await items(api, resource="site", continuation_token=first["continuation_token"])
    assert [r["action"] for r in rest] == ["site.created", "site.created"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"}, "since"),
        ({"continuation_token": "not-a-token"}, "continuation_token"),
        ({"format": "xml"}, "format"),
        ({"since": "yesterday"}, "since"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"actor_type": "robot"}, "actor_type"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    api: httpx.AsyncClient, params: dict[str, object], field: str
) -> None:
    r = await api.get(URL, params=params)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["status_code"] == 422 and field in {d["name"] for d in body["details"]}


async def test_a_tenant_sees_only_its_own_activity(make_client: Callable[..., object]) -> None:
    ours = await make_client()  # type: ignore[operator]
    theirs = await make_client()  # type: ignore[operator]
    ids = await fill(ours)
    assert await items(theirs) == []
    assert await items(theirs, resource_id=ids["alpha"]) == []
    for fmt in ("jsonl", "csv"):
        exported = await theirs.get(URL, params={"format": fmt})
        assert exported.status_code == 200
        assert ids["alpha"] not in exported.text
    # And a token from one tenant's page reads nothing of the other's.
    page = (await ours.get(URL, params={"limit": 1})).json()
    assert await items(theirs, continuation_token=page["continuation_token"]) == []


@pytest.mark.parametrize("role", ["member", "approver", "viewer"])
async def test_only_admin_keys_read_the_activity(
    make_client: Callable[..., object], role: str
) -> None:
    other = await make_client(role)  # type: ignore[operator]
    for params in ({}, {"format": "csv"}, {"format": "jsonl"}):
        r = await other.get(URL, params=params)
        assert r.status_code == 403, r.text
        assert r.json()["status_code"] == 403


async def test_no_key_is_a_401(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get(URL)).status_code == 401


@pytest.mark.database_independent
def test_the_openapi_document_lists_the_three_media_types_and_every_status(app: FastAPI) -> None:
    operation = app.openapi()["paths"][URL]["get"]
    assert set(operation["responses"]["200"]["content"]) == {
        "application/json",
        "application/x-ndjson",
        "text/csv",
    }
    assert {"200", "401", "403", "422"} <= set(operation["responses"])
    names = {p["name"] for p in operation["parameters"]}
    assert names == {
        "actor",
        "actor_type",
        "resource",
        "resource_id",
        "action",
        "since",
        "until",
        "limit",
        "continuation_token",
        "format",
    }


async def test_audit_events_still_lists_the_same_rows(api: httpx.AsyncClient) -> None:
    await fill(api)
    old = (await api.get("/v1/audit-events", params={"limit": 100})).json()["items"]
    assert [r["id"] for r in old] == [r["id"] for r in await items(api)]
