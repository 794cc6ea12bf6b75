"""Bad input gets a clear 4xx in the error model, never a 500."""

import httpx
import pytest


def assert_error(r: httpx.Response, status: int, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"status_code", "message", "details"}
    assert body["status_code"] == status and body["message"]
    if field is not None:
        assert field in [d["name"] for d in body["details"]], body
    return body


async def test_malformed_json_is_a_400(api: httpx.AsyncClient) -> None:
    r = await api.post(
        "/v1/runs", content=b'{"agent_id": ', headers={"content-type": "application/json"}
    )
    assert_error(r, 400, "body")


async def test_a_body_that_is_not_json_at_all_is_a_400(api: httpx.AsyncClient) -> None:
    r = await api.post("/v1/runs", content=b"agent=echo", headers={"content-type": "text/plain"})
    assert r.status_code in (400, 422)
    assert_error(r, r.status_code)


async def test_unknown_agent_is_a_404_naming_agent_id(api: httpx.AsyncClient) -> None:
    r = await api.post("/v1/runs", json={"agent_id": "nope", "input": {}})
    assert_error(r, 404, "agent_id")
    assert_error(await api.post("/v1/agents/nope/runs", json={}), 404, "agent_id")


async def test_missing_agent_is_a_422(api: httpx.AsyncClient) -> None:
    assert_error(await api.post("/v1/runs", json={"input": {}}), 422, "agent_id")


async def test_schema_violation_names_the_field(api: httpx.AsyncClient) -> None:
    r = await api.post("/v1/runs", json={"agent_id": "steps", "input": {"steps": "many"}})
    body = assert_error(r, 422, "input.steps")
    assert "integer" in body["message"]
    r = await api.post("/v1/runs", json={"agent_id": "steps", "input": {"steps": 0}})
    assert_error(r, 422, "input.steps")
    r = await api.post("/v1/runs", json={"agent_id": "research", "input": {}})
    assert_error(r, 422, "input")


async def test_unknown_body_fields_and_bad_types_are_422(api: httpx.AsyncClient) -> None:
    assert_error(await api.post("/v1/runs", json={"agent_id": "echo", "colour": 1}), 422, "colour")
    assert_error(await api.post("/v1/runs", json={"agent_id": "echo", "wait": -1}), 422, "wait")
    r = await api.post("/v1/runs", json={"agent_id": "echo", "timeout_seconds": 0})
    assert_error(r, 422, "timeout_seconds")
    assert_error(await api.post("/v1/runs", json=[1, 2]), 422)


async def test_unknown_run_id_is_a_404(api: httpx.AsyncClient) -> None:
    for path in ("", "/steps", "/events", "/verify"):
        assert_error(await api.get(f"/v1/runs/run_missing{path}"), 404, "run_id")
    assert_error(await api.post("/v1/runs/run_missing/cancel"), 404, "run_id")


async def test_bad_continuation_token_is_a_400(api: httpx.AsyncClient) -> None:
    r = await api.get("/v1/runs", params={"continuation_token": "not-a-token"})
    assert_error(r, 400, "continuation_token")


@pytest.mark.parametrize("limit", [0, 101, -5, "ten"])
async def test_limit_out_of_range_is_a_422(api: httpx.AsyncClient, limit: object) -> None:
    assert_error(await api.get("/v1/runs", params={"limit": limit}), 422, "limit")


async def test_unknown_status_filter_is_a_422(api: httpx.AsyncClient) -> None:
    assert_error(await api.get("/v1/runs", params={"status": "sleeping"}), 422, "status")


async def test_a_body_over_the_limit_is_a_413(api: httpx.AsyncClient) -> None:
    big = {"agent_id": "echo", "input": {"blob": "x" * (1024 * 1024 + 10)}}
    assert_error(await api.post("/v1/runs", json=big), 413, "body")


async def test_a_streamed_body_over_the_limit_is_a_413(api: httpx.AsyncClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 100_000

    r = await api.post("/v1/runs", content=chunks(), headers={"content-type": "application/json"})
    assert_error(r, 413)


async def test_rerun_from_a_step_past_the_end_is_a_422(api: httpx.AsyncClient) -> None:
    run = (await api.post("/v1/runs", json={"agent_id": "echo", "input": {}, "wait": 10})).json()
    r = await api.post(f"/v1/runs/{run['id']}/rerun", json={"from_step": 9})
    assert_error(r, 422, "from_step")
    assert_error(await api.post(f"/v1/runs/{run['id']}/rerun", json={"from_step": 0}), 422)


async def test_unknown_route_is_a_404_in_the_error_model(api: httpx.AsyncClient) -> None:
    assert_error(await api.get("/v1/nothing-here"), 404)
    assert_error(await api.put("/v1/runs"), 405)


async def test_unknown_revision_is_a_404_and_unpublished_agent_a_409(
    api: httpx.AsyncClient,
) -> None:
    r = await api.post("/v1/runs", json={"agent_id": "echo", "input": {}, "revision_id": "rev_x"})
    assert_error(r, 404, "revision_id")
