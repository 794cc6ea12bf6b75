"""Agents that start agents: ``ctx.run_agent`` child runs, over HTTP (``delegate`` example)."""

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from fastapi import FastAPI
from tests.console.test_run_page_http import signed_in, start_run
from tests.durability.test_crash_recovery import (
    SIDE_EFFECTS,
    client,
    create_run,
    key_in_background,
    step_executions,
    wait_until_ended,
)

from runplane.services.runtime import Runtime
from runplane.testing.server import LiveServer


async def create(api: httpx.AsyncClient, agent: str, input: object, **extra: object) -> dict:
    r = await api.post("/v1/runs", json={"agent_id": agent, "input": input, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def children(api: httpx.AsyncClient, parent_id: str) -> list[dict]:
    r = await api.get("/v1/runs", params={"parent_run_id": parent_id})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def ended(api: httpx.AsyncClient, run_id: str, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = (await api.get(f"/v1/runs/{run_id}", params={"wait": 2})).json()
        if run["status"] in ("succeeded", "failed", "canceled") or time.monotonic() > deadline:
            return run


async def test_a_parent_gets_its_childs_result_and_the_child_records_its_parent(
    api: httpx.AsyncClient,
) -> None:
    parent = await create(api, "delegate", {"agent": "echo", "input": {"message": "hi"}})
    done = await ended(api, parent["id"])
    assert done["status"] == "succeeded", done
    assert done["result"]["content"] == {"message": "hi"}
    [child] = await children(api, parent["id"])
    assert child["trigger"] == "agent" and child["parent_run_id"] == parent["id"]
    assert child["agent_name"] == "echo" and child["status"] == "succeeded"
    steps = (await api.get(f"/v1/runs/{parent['id']}/steps")).json()["items"]
    assert [s["name"] for s in steps] == ["run_agent:echo", "result:echo"]
    assert steps[0]["output"] == child["id"]
    # The parent waited without a slot: paused on the child, then resumed by its end.
    events = (await api.get(f"/v1/runs/{parent['id']}/events")).json()["items"]
    moves = [e["data"]["status"] for e in events if e["type"] == "status"]
    assert "paused" in moves and moves[-1] == "succeeded", moves


async def test_the_console_run_page_links_a_parent_and_its_children(
    app: FastAPI, rt: Runtime
) -> None:
    async with signed_in(app, rt) as (browser, key):
        parent = await start_run(app, key, "delegate", input={"agent": "echo"})
        assert parent["status"] == "succeeded", parent
        page = (await browser.get(f"/console/runs/{parent['id']}")).text
        assert 'id="child-runs"' in page
        listed = page.split('id="child-runs"')[1]
        child_id = listed.split('href="/console/runs/')[1].split('"')[0]
        assert child_id.startswith("run_") and "echo (succeeded)" in listed
        child = (await browser.get(f"/console/runs/{child_id}")).text
        assert f'href="/console/runs/{parent["id"]}"' in child


async def test_without_wait_the_parent_gets_the_childs_id_at_once(api: httpx.AsyncClient) -> None:
    parent = await create(api, "delegate", {"agent": "echo", "wait": False}, wait=10)
    assert parent["status"] == "succeeded", parent
    child_id = parent["result"]["content"]
    assert isinstance(child_id, str) and child_id.startswith("run_")
    child = await ended(api, child_id)
    assert child["parent_run_id"] == parent["id"] and child["status"] == "succeeded"


async def test_a_failing_child_fails_its_parent_with_the_childs_error_code(
    api: httpx.AsyncClient,
) -> None:
    parent = await create(api, "delegate", {"agent": "fail", "input": {}})
    done = await ended(api, parent["id"])
    assert done["status"] == "failed", done
    assert done["error"]["code"] == "example_failure"
    assert "always fails" in done["error"]["message"]
    [child] = await children(api, parent["id"])
    assert child["status"] == "failed" and child["error"]["code"] == "example_failure"


async def test_a_child_of_an_unknown_agent_fails_the_parent_and_starts_nothing(
    api: httpx.AsyncClient,
) -> None:
    parent = await create(api, "delegate", {"agent": "no-such-agent", "input": {}}, wait=10)
    assert parent["status"] == "failed" and parent["error"]["code"] == "not_found", parent
    assert await children(api, parent["id"]) == []


async def test_cancelling_a_parent_cancels_its_running_child(api: httpx.AsyncClient) -> None:
    parent = await create(api, "delegate", {"agent": "steps", "input": {"steps": 3, "sleep": 5}})
    deadline = time.monotonic() + 10
    kids: list[dict] = []
    while time.monotonic() < deadline:
        kids = await children(api, parent["id"])
        if kids and kids[0]["status"] == "running":
            break
        await asyncio.sleep(0.05)
    assert kids and kids[0]["status"] == "running", kids
    r = await api.post(f"/v1/runs/{parent['id']}/cancel")
    assert r.status_code in (200, 202), r.text
    assert (await ended(api, parent["id"]))["status"] == "canceled"
    child = await ended(api, kids[0]["id"])
    assert child["status"] == "canceled", child


def test_a_parent_killed_while_its_child_runs_completes_after_restart_with_one_child(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str], tmp_path: Path
) -> None:
    effects = tmp_path / "effects"
    effects.mkdir()
    url = new_database("children")
    with ThreadPoolExecutor() as pool:
        key = key_in_background(pool, url, "children")
        server = start_server(database_url=url, env={SIDE_EFFECTS: str(effects)})
    with client(server, key.result()) as api:
        parent = create_run(
            api, "delegate", {"agent": "steps", "input": {"steps": 3, "sleep": 0.6}}
        )
        deadline = time.monotonic() + 15
        child_id = None
        while time.monotonic() < deadline:
            kids = api.get("/v1/runs", params={"parent_run_id": parent["id"]}).json()["items"]
            if kids and step_executions(effects, kids[0]["id"])[2]:
                child_id = kids[0]["id"]
                break
            time.sleep(0.05)
        assert child_id is not None, server.log_tail()

        server.kill()
        assert step_executions(effects, child_id)[3] == 0, "killed too late to test anything"
        server.start()

        done = wait_until_ended(api, parent["id"], timeout=30)
        assert done["status"] == "succeeded", (done, server.log_tail())
        kids = api.get("/v1/runs", params={"parent_run_id": parent["id"]}).json()["items"]
        assert [k["id"] for k in kids] == [child_id]
        assert kids[0]["status"] == "succeeded"
        ran = step_executions(effects, child_id)
        assert ran[1] == 1 and ran[3] == 1, ran
        assert [s["index"] for s in done["result"]["content"]["steps"]] == [1, 2, 3]
        assert Counter(k["trigger"] for k in kids) == Counter({"agent": 1})
