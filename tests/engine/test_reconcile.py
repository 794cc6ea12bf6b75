"""The reconciler repairs runs whose workflow disagrees with them (issue 12).

Each test makes the disagreement for real: a run row and a durable workflow that do not
match, as a database fault leaves them (a workflow ended while its run stayed queued,
a run running with no workflow, a workflow pending on a process that is gone). The
reconciler's sweep then repairs the run, which ends, with a ``reconciled`` event saying
what was found and done, and an event log whose hash chain still verifies.
"""

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from runplane.domain.events import GENESIS
from runplane.domain.ids import new_id
from runplane.domain.models import NewEvent, utcnow
from runplane.engine.base import WorkflowState
from runplane.engine.dbos import system_database_url
from runplane.services.reconcile import MAX_RESTARTS, Reconciler
from runplane.services.runtime import Runtime
from runplane.store import runs as store
from runplane.store.dialect import is_sqlite, sync_url
from runplane.store.runs import Chain, Move

PAST = timedelta(minutes=5)


async def _template(api: httpx.AsyncClient) -> dict[str, Any]:
    """A finished run of the ``steps`` agent: the columns a run of this tenant needs."""
    r = await api.post("/v1/runs", json={"agent_id": "steps", "input": {"steps": 2}, "wait": 10})
    assert r.status_code == 201 and r.json()["status"] == "succeeded", r.text
    return r.json()


async def _insert(rt: Runtime, template: dict[str, Any], run_id: str) -> dict[str, Any]:
    """A queued run, handed to the engine five minutes ago, as the API records one."""
    async with rt.db.read() as conn:
        row = await store.get_run(conn, None, template["id"])
    assert row is not None
    past = utcnow() - PAST
    keep = ("tenant_id", "agent_id", "agent_name", "revision_id", "trigger", "input")
    new = {k: row[k] for k in keep} | {"variables": {}, "context": {}, "metadata": {}}
    new |= {
        "id": run_id,
        "status": "queued",
        "last_hash": GENESIS,
        "timeout_seconds": 3600.0,
        "admitted_at": past,
        "created_at": past,
        "updated_at": past,
    }
    async with rt.db.write() as conn:
        return dict(await store.insert_run(conn, new))


async def _workflow(rt: Runtime, run_id: str, status: str) -> WorkflowState:
    """The run's workflow once it has the status, polled."""
    for _ in range(200):
        found = (await rt.engine.workflows([(run_id, 0)])).get(run_id)
        if found is not None and found.status == status:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"workflow {run_id} never became {status}: {found}")


async def _ended_workflow_before_its_run(rt: Runtime, run_id: str) -> None:
    """A workflow that ran and ended SUCCESS while its run did not exist yet (issue 12)."""
    await rt.engine.submit(run_id, here=True)
    await _workflow(rt, run_id, "SUCCESS")


async def _ended(api: httpx.AsyncClient, run_id: str, timeout: float = 30) -> dict[str, Any]:
    for _ in range(int(timeout / 0.1)):
        run = (await api.get(f"/v1/runs/{run_id}")).json()
        if run["status"] in ("succeeded", "failed", "canceled"):
            return run
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} did not end: {run}")


async def _events(api: httpx.AsyncClient, run_id: str) -> list[dict[str, Any]]:
    r = await api.get(f"/v1/runs/{run_id}/events", params={"limit": 1000})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    assert [e["seq"] for e in items] == list(range(1, len(items) + 1))
    assert (await api.get(f"/v1/runs/{run_id}/verify")).json()["ok"] is True
    return items


async def _reconciled(api: httpx.AsyncClient, run_id: str) -> list[dict[str, Any]]:
    return [e["data"] for e in await _events(api, run_id) if e["type"] == "reconciled"]


async def test_a_queued_run_whose_workflow_ended_is_started_again(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    template = await _template(api)
    run_id = new_id("run")
    await _ended_workflow_before_its_run(rt, run_id)
    await _insert(rt, template, run_id)

    await Reconciler(rt).sweep()  # the app's own sweep may get there first: either does

    done = await _ended(api, run_id)
    assert done["status"] == "succeeded", done
    assert await _reconciled(api, run_id) == [
        {
            "found": "ended",
            "action": "restarted",
            "workflow": f"{run_id}.1",
            "workflow_status": "SUCCESS",
        }
    ]
    steps = (await api.get(f"/v1/runs/{run_id}/steps")).json()["items"]
    assert [(s["number"], s["status"]) for s in steps] == [(1, "completed"), (2, "completed")]


async def test_a_running_run_without_a_workflow_is_queued_again(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    template = await _template(api)
    run = await _insert(rt, template, new_id("run"))
    past = utcnow() - PAST
    async with rt.db.write() as conn:
        await store.move_run(
            conn,
            run["id"],
            Chain(run["last_seq"], run["last_hash"]),
            "queued",
            before=Move("running"),  # type: ignore[arg-type]
            fields={"started_at": past, "updated_at": past},
        )

    await Reconciler(rt).sweep()

    done = await _ended(api, run["id"])
    assert done["status"] == "succeeded", done
    assert await _reconciled(api, run["id"]) == [
        {"found": "missing", "action": "queued", "workflow": run["id"], "workflow_status": None}
    ]


async def test_a_workflow_left_pending_on_a_gone_process_is_taken_over(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    template = await _template(api)
    run_id = new_id("run")
    await _ended_workflow_before_its_run(rt, run_id)
    # As a process that died and whose takeover stopped half way leaves it: pending on
    # an executor that has no heartbeat row any more.
    _set_workflow(rt, run_id, status="PENDING", executor_id="gone-worker")
    await _insert(rt, template, run_id)

    await Reconciler(rt).sweep()

    done = await _ended(api, run_id)
    assert done["status"] == "succeeded", done
    assert await _reconciled(api, run_id) == [
        {"found": "orphaned", "action": "queued", "workflow": run_id, "workflow_status": "PENDING"}
    ]


async def test_a_run_whose_workflow_keeps_ending_first_fails_with_a_clear_error(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    template = await _template(api)
    run_id = new_id("run")
    await _ended_workflow_before_its_run(rt, run_id)
    run = await _insert(rt, template, run_id)
    earlier = {"found": "ended", "action": "restarted", "workflow": run_id}
    notes = [NewEvent("reconciled", {**earlier, "workflow_status": "ERROR"}, utcnow())]
    async with rt.db.write() as conn:
        await store.commit_changes(
            conn, run_id, Chain(run["last_seq"], run["last_hash"]), new_events=notes * MAX_RESTARTS
        )

    await Reconciler(rt).sweep()

    done = await _ended(api, run_id)
    assert done["status"] == "failed", done
    assert done["error"]["code"] == "workflow_lost"
    assert "ended 4 times before the run did (last as SUCCESS)" in done["error"]["message"]
    events = await _events(api, run_id)
    assert [e["type"] for e in events[-3:]] == ["reconciled", "error", "status"]
    assert events[-3]["data"]["action"] == "failed"
    assert (await api.get(f"/v1/runs/{run_id}/steps")).json()["items"] == []


def _set_workflow(rt: Runtime, run_id: str, **values: str) -> None:
    """Change the engine's record of a workflow behind its back (DBOS's own table)."""
    url = system_database_url(rt.settings.database_url)
    table = "workflow_status" if is_sqlite(url) else "dbos.workflow_status"
    sets = ", ".join(f"{k} = :{k}" for k in values)
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            stmt = sa.text(f"UPDATE {table} SET {sets} WHERE workflow_uuid = :id")
            assert conn.execute(stmt, {**values, "id": run_id}).rowcount == 1
    finally:
        engine.dispose()
