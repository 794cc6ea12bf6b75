"""A run recorded without its workflow (a crash between the two writes) still runs."""

import asyncio
from datetime import timedelta

import httpx

from runplane.domain.events import GENESIS
from runplane.domain.ids import new_id
from runplane.domain.models import utcnow
from runplane.services.runtime import Runtime
from runplane.store import runs as store


async def test_a_queued_run_without_a_workflow_is_queued_again(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    template = (
        await api.post("/v1/runs", json={"agent_id": "echo", "input": {"x": 1}, "wait": 10})
    ).json()
    async with rt.db.read() as conn:
        row = dict(await store.get_run(conn, None, template["id"]))
    past = utcnow() - timedelta(minutes=5)
    orphan = {
        **{
            k: row[k]
            for k in (
                "tenant_id",
                "agent_id",
                "agent_name",
                "revision_id",
                "trigger",
                "input",
                "variables",
                "context",
                "metadata",
                "timeout_seconds",
            )
        },
        "id": new_id("run"),
        "status": "queued",
        "last_hash": GENESIS,
        "created_at": past,
        "updated_at": past,
    }
    async with rt.db.write() as conn:
        await store.insert_run(conn, orphan)
    for _ in range(100):
        got = (await api.get(f"/v1/runs/{orphan['id']}")).json()
        if got["status"] == "succeeded":
            break
        await asyncio.sleep(0.1)
    assert got["status"] == "succeeded" and got["result"]["content"] == {"x": 1}
