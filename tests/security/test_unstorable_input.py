"""Input that parses but that no database can keep is refused with a 4xx, never a 500.

Found by the fuzzer (``test_fuzz_api.py``): each of these answered 500 with a traceback
in the log, from deep inside a write. Each is now refused up front, in the error model,
and nothing is written.
"""

import httpx
import pytest

DEEP = "[" * 300 + "]" * 300
BODIES = {
    "an integer past 64 bits": '{"metadata": {"n": -9223372036854775809}}',
    "NaN": '{"metadata": {"n": NaN}}',
    "Infinity": '{"metadata": {"n": Infinity}}',
    "a NUL in a value": '{"metadata": {"n": "a\\u0000b"}}',
    "a NUL in a key": '{"metadata": {"a\\u0000b": 1}}',
    "a lone surrogate": '{"metadata": {"n": "\\ud800"}}',
    "nesting 300 deep": '{"metadata": {"n": ' + DEEP + "}}",
}


async def thread_count(api: httpx.AsyncClient) -> int:
    r = await api.post("/threads/count", json={})
    assert r.status_code == 200, r.text
    count: int = r.json()
    return count


def assert_error_model(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status_code"] == status and body["message"] and body["details"]


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
async def test_a_thread_whose_metadata_no_store_can_keep_is_refused(
    api: httpx.AsyncClient, body: str
) -> None:
    r = await api.post("/threads", content=body, headers={"content-type": "application/json"})
    assert_error_model(r, 422)
    assert "metadata" in r.json()["message"]
    assert await thread_count(api) == 0


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
async def test_a_native_run_whose_metadata_no_store_can_keep_is_refused(
    api: httpx.AsyncClient, body: str
) -> None:
    body = body.replace("{", '{"agent_id": "echo", ', 1)
    r = await api.post("/v1/runs", content=body, headers={"content-type": "application/json"})
    assert_error_model(r, 422)
    assert (await api.get("/v1/runs")).json()["items"] == []


async def test_an_offset_past_what_a_database_holds_is_refused(api: httpx.AsyncClient) -> None:
    for path in ("/threads/search", "/assistants/search", "/runs/crons/search"):
        r = await api.post(path, json={"offset": 2**63})
        assert_error_model(r, 422)


async def test_a_store_namespace_with_a_nul_or_the_reserved_root_is_refused(
    api: httpx.AsyncClient,
) -> None:
    r = await api.get("/store/items", params={"namespace": "a\x00b", "key": "k"})
    assert_error_model(r, 400)
    r = await api.put("/store/items", json={"namespace": ["langgraph"], "key": "k", "value": {}})
    assert_error_model(r, 422)
    r = await api.post("/store/namespaces", json={})
    assert r.status_code == 200 and r.json()["namespaces"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/v1/runs/run_a%00b",
        "/threads/a%00b",
        "/assistants/a%00b",
        "/v1/agents/a%00b",
        "/v1/runs?agent_id=a%00b",
    ],
)
async def test_an_id_with_a_nul_is_a_bad_request_not_a_crash(
    api: httpx.AsyncClient, path: str
) -> None:
    r = await api.get(path)
    assert r.status_code == 400, r.text
    assert r.json()["status_code"] == r.status_code


async def test_a_body_that_is_not_text_is_a_400_even_without_a_valid_key(
    anonymous: httpx.AsyncClient,
) -> None:
    r = await anonymous.post(
        "/threads", content=b"\xff\xfe", headers={"content-type": "application/json"}
    )
    assert_error_model(r, 400)
    assert r.json()["details"] == [{"name": "body", "value": None}]
