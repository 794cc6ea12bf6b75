"""Finding 2: the history filter's metadata keys reach the checkpointer's SQL; only plain
names are let through, and the checkpointer is a release that binds its filter values."""

from importlib.metadata import version

import httpx
import pytest

INJECTIONS = ("step') = 3 OR 1=1 --", "a b", "x;y", "$.step", 'step"', "")


async def test_a_metadata_key_that_is_not_a_plain_name_is_refused_and_reads_nothing(
    api: httpx.AsyncClient,
) -> None:
    thread_id = (await api.post("/threads", json={})).json()["thread_id"]
    body = {"assistant_id": "lg_echo", "input": {"message": "hi"}}
    assert (await api.post(f"/threads/{thread_id}/runs/wait", json=body)).status_code == 200
    plain = await api.post(f"/threads/{thread_id}/history", json={"metadata": {"step": 1}})
    assert plain.status_code == 200 and all(h["metadata"]["step"] == 1 for h in plain.json())
    for key in INJECTIONS:
        r = await api.post(f"/threads/{thread_id}/history", json={"metadata": {key: 1}})
        assert r.status_code == 422, (key, r.text)
        assert set(r.json()) == {"status_code", "message", "details"}
        assert r.json()["details"][0]["name"].startswith("metadata"), r.text


@pytest.mark.database_independent
def test_the_sqlite_checkpointer_is_a_release_without_cve_2025_67644() -> None:
    release = tuple(int(part) for part in version("langgraph-checkpoint-sqlite").split(".")[:3])
    assert release >= (3, 0, 1)


async def test_a_store_search_filter_key_that_is_not_a_plain_name_is_a_422(
    api: httpx.AsyncClient,
) -> None:
    put = {"namespace": ["notes"], "key": "k1", "value": {"step": 1}}
    assert (await api.put("/store/items", json=put)).status_code == 204
    plain = await api.post(
        "/store/items/search", json={"namespace_prefix": ["notes"], "filter": {"step": 1}}
    )
    assert plain.status_code == 200 and [i["key"] for i in plain.json()["items"]] == ["k1"]
    for key in INJECTIONS:
        body = {"namespace_prefix": ["notes"], "filter": {key: 1}}
        r = await api.post("/store/items/search", json=body)
        assert r.status_code == 422, (key, r.text)
        assert r.json()["details"][0]["name"] == "filter", r.text
