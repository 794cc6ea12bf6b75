"""Shared steps of the replay tests: runs through the API, replays through the service."""

from typing import Any

import httpx
import sqlalchemy as sa

from runplane.domain.models import Principal, RunRecord
from runplane.schemas import RunCreate
from runplane.services import runs as runs_svc
from runplane.services.runtime import Runtime
from runplane.store import runs as runs_store
from runplane.store.schema import tool_records


def calls(*pairs: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """The ``call_tools`` input for these (tool, arguments) pairs."""
    return {"calls": [{"tool": t, "arguments": a} for t, a in pairs]}


async def run(api: httpx.AsyncClient, agent: str, input: object, **extra: object) -> dict:
    """A run through the API, waited for."""
    made = await api.post("/v1/runs", json={"agent_id": agent, "input": input, "wait": 30, **extra})
    assert made.status_code == 201, made.text
    return dict(made.json())


async def replay(
    rt: Runtime, tenant: str, recorded: str, agent: str, input: object, **extra: Any
) -> RunRecord:
    """A replay of ``recorded`` (the suite runner's way in), waited for."""
    who = Principal(tenant_id=tenant, key_id="test", role="admin")
    body = RunCreate(agent_id=agent, input=input, wait=30, **extra)
    return await runs_svc.create_run(rt, who, body, replay_of=recorded)


async def events(api: httpx.AsyncClient, run_id: str, type_: str) -> list[dict]:
    """The data of a run's events of one type."""
    items = (await api.get(f"/v1/runs/{run_id}/events", params={"limit": 1000})).json()["items"]
    return [e["data"] for e in items if e["type"] == type_]


async def record_count(rt: Runtime, tenant: str, collection: str) -> int:
    """How many documents the tenant's tools wrote to a collection: their side effects."""
    stmt = sa.select(sa.func.count()).where(
        tool_records.c.tenant_id == tenant, tool_records.c.collection == collection
    )
    async with rt.db.read() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def tenant_of(rt: Runtime, run_id: str) -> str:
    """The id of the tenant a run belongs to."""
    async with rt.db.read() as conn:
        found = await runs_store.get_run(conn, None, run_id)
    assert found is not None
    return found["tenant_id"]
