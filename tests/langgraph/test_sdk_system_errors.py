"""One system: graph runs are runplane runs (``/v1``). And bad requests: 4xx, never a 500."""

from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import AuthenticationError, NotFoundError, UnprocessableEntityError
from lgsdk import collect, new_id, raises_status, runplane_api

TENANT = "system"


async def v1(live_server: Any, key: str, path: str) -> Any:
    async with runplane_api(live_server.url, key) as api:
        res = await api.get(path)
    assert res.status_code == 200, res.text
    return res.json()


# -- one system --------------------------------------------------------------------------


async def test_a_graph_run_is_a_runplane_run_with_a_step_per_node(
    lg: LangGraphClient, live_server: Any, key: str
) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    run = await lg.runs.create(tid, "lg_steps5", input={"steps": []})
    await lg.runs.join(tid, run["run_id"])

    same = await v1(live_server, key, f"/v1/runs/{run['run_id']}")
    assert same["id"] == run["run_id"]
    assert same["agent_name"] == "lg_steps5"
    assert same["status"] == "succeeded"

    steps = (await v1(live_server, key, f"/v1/runs/{run['run_id']}/steps"))["items"]
    assert [s["name"] for s in steps] == ["s1", "s2", "s3", "s4", "s5"]
    assert all(s["status"] == "completed" for s in steps)


async def test_a_stateless_graph_run_is_a_runplane_run_too(
    lg: LangGraphClient, live_server: Any, key: str
) -> None:
    parts = await collect(lg.runs.stream(None, "lg_echo", input={"message": "one system"}))
    run_id = parts[0].data["run_id"]
    same = await v1(live_server, key, f"/v1/runs/{run_id}")
    assert same["agent_name"] == "lg_echo" and same["status"] == "succeeded"
    steps = (await v1(live_server, key, f"/v1/runs/{run_id}/steps"))["items"]
    assert [s["name"] for s in steps] == ["echo"]


async def test_an_interrupted_graph_run_is_paused_in_runplane(
    lg: LangGraphClient, live_server: Any, key: str
) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    run = await lg.runs.create(tid, "approval", input={"action": "hold"})
    await lg.runs.join(tid, run["run_id"])
    same = await v1(live_server, key, f"/v1/runs/{run['run_id']}")
    assert same["agent_name"] == "approval"
    assert same["status"] == "paused"


async def test_another_tenants_key_cannot_read_the_run_in_v1(
    lg: LangGraphClient, live_server: Any, lg_keys: dict[str, str]
) -> None:
    run = await lg.runs.create(None, "lg_echo", input={"message": "private"})
    await lg.runs.join(run["thread_id"], run["run_id"])
    async with runplane_api(live_server.url, lg_keys["other"]) as api:
        assert (await api.get(f"/v1/runs/{run['run_id']}")).status_code == 404


# -- errors ------------------------------------------------------------------------------


async def test_a_bogus_stream_mode_is_422(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    with pytest.raises(UnprocessableEntityError) as err:
        await lg.runs.create(
            thread["thread_id"], "lg_echo", input={"message": "x"}, stream_mode="bogus"
        )
    assert err.value.status_code == 422
    with pytest.raises(UnprocessableEntityError):
        await collect(lg.runs.stream(None, "lg_echo", input={"message": "x"}, stream_mode="bogus"))
    res = await lg.http.client.post(
        "/runs/wait", json={"assistant_id": "lg_echo", "stream_mode": "bogus"}
    )
    assert res.status_code == 422, res.text


async def test_wrong_types_in_bodies_are_422(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    bad: list[tuple[str, str, Any]] = [
        ("POST", "/runs/wait", {}),  # no assistant_id
        ("POST", "/runs", {"assistant_id": "lg_echo", "multitask_strategy": "bogus"}),
        ("POST", f"/threads/{tid}/runs", {"assistant_id": "lg_echo", "if_not_exists": 3}),
        ("POST", f"/threads/{tid}/runs", {"assistant_id": "lg_echo", "metadata": "not a map"}),
        ("POST", "/threads", {"metadata": "not a map"}),
        ("POST", "/threads/search", {"limit": -1}),
        ("POST", "/threads/search", {"status": "sleepy"}),
        ("POST", "/assistants", {"config": {}}),  # no graph_id
        ("POST", "/assistants/search", {"limit": "many"}),
        ("POST", "/runs/crons", {"assistant_id": "lg_echo"}),  # no schedule
        ("PUT", "/store/items", {"namespace": ["a"], "key": "k", "value": "not a map"}),
        ("POST", "/store/items/search", {"namespace_prefix": "a", "limit": 0}),
    ]
    for method, path, body in bad:
        res = await lg.http.client.request(method, path, json=body)
        assert res.status_code == 422, (method, path, body, res.status_code, res.text)


async def test_unknown_assistant_is_404_for_runs(lg: LangGraphClient) -> None:
    missing = new_id()
    thread = await lg.threads.create()
    with pytest.raises(NotFoundError):
        await lg.runs.create(None, missing, input={})
    with pytest.raises(NotFoundError):
        await lg.runs.create(thread["thread_id"], missing, input={})
    with pytest.raises(NotFoundError):
        await collect(lg.runs.stream(None, missing, input={}))
    with raises_status(404):
        await lg.runs.wait(None, missing, input={})
    with raises_status(404):
        await lg.runs.wait(None, "no_such_graph", input={})
    with pytest.raises(NotFoundError):
        await lg.runs.create_batch([{"assistant_id": missing, "input": {}}])  # type: ignore[list-item]


async def test_unknown_thread_is_404_for_runs(lg: LangGraphClient) -> None:
    missing = new_id()
    with pytest.raises(NotFoundError):
        await lg.runs.create(missing, "lg_echo", input={"message": "x"})
    with pytest.raises(NotFoundError):
        await collect(lg.runs.stream(missing, "lg_echo", input={"message": "x"}))
    with pytest.raises(NotFoundError):
        await lg.runs.get(missing, "run_x")
    with pytest.raises(NotFoundError):
        await lg.runs.cancel(missing, "run_x")
    with raises_status(404):
        await lg.runs.join(missing, "run_x")
    with pytest.raises(NotFoundError):
        await collect(lg.runs.join_stream(missing, "run_x"))
    with pytest.raises(NotFoundError):
        await lg.runs.delete(missing, "run_x")


async def test_odd_requests_are_4xx_never_500(
    lg: LangGraphClient, live_server: Any, key: str
) -> None:
    fresh = (await lg.threads.create())["thread_id"]
    ran = (await lg.threads.create())["thread_id"]
    await lg.runs.wait(ran, "lg_echo", input={"message": "x"})
    calls: list[tuple[str, Any]] = [
        (
            "update_state of a thread that never ran",
            lambda c: c.threads.update_state(fresh, {"message": "x"}),
        ),
        (
            "update_state as an unknown node",
            lambda c: c.threads.update_state(ran, {"message": "x"}, as_node="no_such_node"),
        ),
        (
            "get_state at an unknown checkpoint id",
            lambda c: c.threads.get_state(ran, checkpoint_id="not-a-checkpoint"),
        ),
        (
            "history before an unknown checkpoint",
            lambda c: c.threads.get_history(ran, before="not-a-checkpoint"),
        ),
        ("set_latest to a missing version", lambda c: c.assistants.set_latest("lg_echo", 999)),
        ("update an unknown assistant", lambda c: c.assistants.update(new_id(), name="x")),
        ("update an unknown cron", lambda c: c.crons.update(new_id(), schedule="* * * * *")),
        ("get a missing store item", lambda c: c.store.get_item(("nothing", "here"), "k")),
        (
            "resume when nothing waits",
            lambda c: c.runs.wait(ran, "lg_echo", command={"resume": "x"}),
        ),
        (
            "run from an unknown checkpoint",
            lambda c: c.runs.wait(
                ran, "lg_echo", input={"message": "y"}, checkpoint_id="not-a-checkpoint"
            ),
        ),
    ]
    server_errors = []
    for label, call in calls:
        # a client per call: a connection the server drops after a 500 must not fail the next
        async with get_client(url=live_server.url, api_key=key, timeout=30) as client:
            try:
                await call(client)
            except httpx.HTTPStatusError as err:
                if err.response.status_code >= 500:
                    server_errors.append((label, err.response.status_code, err.response.text))
            except httpx.TransportError as err:
                server_errors.append((label, "transport error", repr(err)))
    assert server_errors == []


async def test_no_key_or_a_bad_key_is_refused(live_server: Any) -> None:
    async with get_client(url=live_server.url, api_key=None) as anonymous:
        with pytest.raises(httpx.HTTPStatusError) as err:
            await anonymous.assistants.search()
        assert err.value.response.status_code in (401, 403)
    async with get_client(url=live_server.url, api_key="rp_not_a_key") as wrong:
        with pytest.raises(AuthenticationError):
            await wrong.threads.create()
