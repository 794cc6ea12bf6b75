"""Shared steps of the governance tests: start a run, wait for a status, read its log."""

import asyncio
from typing import Any

import httpx


async def start(api: httpx.AsyncClient, agent: str, input: object, **extra: object) -> dict:
    r = await api.post("/v1/runs", json={"agent_id": agent, "input": input, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def calls(*pairs: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """The ``call_tools`` input for these (tool, arguments) pairs."""
    return {"calls": [{"tool": t, "arguments": a} for t, a in pairs]}


async def until(api: httpx.AsyncClient, run_id: str, *statuses: str, timeout: float = 15) -> dict:
    """The run once its status is one of ``statuses``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        run = (await api.get(f"/v1/runs/{run_id}")).json()
        if run["status"] in statuses:
            return run
        assert loop.time() < deadline, f"run stayed {run['status']}, wanted {statuses}"
        await asyncio.sleep(0.02)


async def events(api: httpx.AsyncClient, run_id: str, type_: str | None = None) -> list[dict]:
    items = (await api.get(f"/v1/runs/{run_id}/events", params={"limit": 1000})).json()["items"]
    return [e for e in items if type_ is None or e["type"] == type_]


async def pending(api: httpx.AsyncClient, run_id: str) -> list[dict]:
    r = await api.get("/v1/approvals", params={"run_id": run_id, "status": "pending"})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def only_pending(api: httpx.AsyncClient, run_id: str) -> dict:
    """The run's one pending approval (the run must be paused on it)."""
    await until(api, run_id, "paused")
    items = await pending(api, run_id)
    assert len(items) == 1, items
    return items[0]
