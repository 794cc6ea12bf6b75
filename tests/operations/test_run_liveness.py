"""Run liveness (working, stalled, lost) on the API, and the audited repair of a stuck run.

Dead and hung workers are made for real, as data: a run row held by an executor whose
heartbeat row is stale (or gone), a run whose last event is older than its stall limit,
a workflow left pending on a process that is gone; and, for a hung attempt in this very
process, an agent asleep in a step for longer than the stall limit.
"""

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from runplane.domain.events import GENESIS
from runplane.domain.ids import new_id
from runplane.domain.models import utcnow
from runplane.engine.dbos import system_database_url
from runplane.services.runtime import Runtime
from runplane.store import executors as executors_store
from runplane.store import runs as store
from runplane.store.dialect import is_sqlite, sync_url
from runplane.store.runs import Chain, Move
from runplane.store.schema import executors

PAST = timedelta(minutes=5)
LONG_AGO = timedelta(hours=1)


async def _template(api: httpx.AsyncClient) -> dict[str, Any]:
    """A finished run of the ``steps`` agent: the columns a run of this tenant needs."""
    r = await api.post("/v1/runs", json={"agent_id": "steps", "input": {"steps": 2}, "wait": 10})
    assert r.status_code == 201 and r.json()["status"] == "succeeded", r.text
    return r.json()


def _past_stall_limit(rt: Runtime) -> datetime:
    """A last-progress time a minute older than the server's stall limit."""
    return utcnow() - timedelta(seconds=rt.settings.run_stalled_after + 60)


async def _running(
    rt: Runtime,
    template: dict[str, Any],
    *,
    owner: str | None,
    progress_at: datetime,
    timeout: float = 3600.0,
    run_id: str | None = None,
) -> dict[str, Any]:
    """A running run held by ``owner``, whose last event (its start) is at ``progress_at``.

    Its row changed just now, so the reconciler's sweep leaves it alone meanwhile.
    """
    async with rt.db.read() as conn:
        row = await store.get_run(conn, None, template["id"])
    assert row is not None
    keep = ("tenant_id", "agent_id", "agent_name", "revision_id", "trigger", "input")
    new = {k: row[k] for k in keep} | {"variables": {}, "context": {}, "metadata": {}}
    past, now = utcnow() - PAST, utcnow()
    new |= {
        "id": run_id or new_id("run"),
        "status": "queued",
        "last_hash": GENESIS,
        "timeout_seconds": timeout,
        "admitted_at": past,
        "created_at": past,
        "updated_at": now,
    }
    async with rt.db.write() as conn:
        run = await store.insert_run(conn, new)
        await store.move_run(
            conn,
            run["id"],
            Chain(run["last_seq"], run["last_hash"]),
            "queued",
            before=Move("running"),  # type: ignore[arg-type]
            fields={"started_at": progress_at, "updated_at": now, "owner": owner, "epoch": 1},
            at=progress_at,
        )
    return dict(run)


async def _stale_executor(rt: Runtime) -> str:
    """An executor whose last heartbeat is an hour old: a worker that died."""
    name = f"dead-{new_id('run')[-8:]}"
    long_ago = utcnow() - LONG_AGO
    async with rt.db.write() as conn:
        await executors_store.heartbeat(conn, name, "all", long_ago, 8)
        await conn.execute(
            executors.update().where(executors.c.id == name).values(heartbeat_at=long_ago)
        )
    return name


async def _run(api: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    r = await api.get(f"/v1/runs/{run_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _ended(api: httpx.AsyncClient, run_id: str, timeout: float = 30) -> dict[str, Any]:
    for _ in range(int(timeout / 0.1)):
        run = await _run(api, run_id)
        if run["status"] in ("succeeded", "failed", "canceled"):
            return run
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} did not end: {run}")


async def _events(api: httpx.AsyncClient, run_id: str) -> list[dict[str, Any]]:
    r = await api.get(f"/v1/runs/{run_id}/events", params={"limit": 1000})
    assert r.status_code == 200, r.text
    assert (await api.get(f"/v1/runs/{run_id}/verify")).json()["ok"] is True
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def _repaired_audit(api: httpx.AsyncClient, run_id: str) -> list[dict[str, Any]]:
    r = await api.get("/v1/audit-events", params={"limit": 100})
    assert r.status_code == 200, r.text
    return [
        e for e in r.json()["items"] if e["action"] == "run.repaired" and e["target_id"] == run_id
    ]


def _listed(page: dict[str, Any], run_id: str) -> dict[str, Any]:
    return next(r for r in page["items"] if r["id"] == run_id)


async def test_a_run_whose_worker_stopped_beating_is_lost_and_fail_ends_it_with_the_reason(
    rt: Runtime, make_client: Callable[..., Any]
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    api, member = await make_client("admin", tenant), await make_client("member", tenant)
    template = await _template(api)
    dead = await _stale_executor(rt)
    run = await _running(rt, template, owner=dead, progress_at=utcnow())

    shown = await _run(api, run["id"])
    assert shown["status"] == "running" and shown["liveness"] == "lost", shown
    assert shown["last_progress_at"] is not None
    listed = _listed((await api.get("/v1/runs")).json(), run["id"])
    assert listed["liveness"] == "lost"
    assert _listed((await api.get("/v1/runs")).json(), template["id"])["liveness"] is None

    body = {"action": "fail", "reason": "its host was decommissioned"}
    refused = await member.post(f"/v1/runs/{run['id']}/repair", json=body)
    assert refused.status_code == 403, refused.text
    assert refused.json()["status_code"] == 403
    assert (await member.get(f"/v1/runs/{run['id']}")).json()["liveness"] == "lost"

    r = await api.post(f"/v1/runs/{run['id']}/repair", json=body)
    assert r.status_code == 200, r.text
    failed = r.json()
    assert failed["status"] == "failed" and failed["liveness"] is None
    assert failed["error"]["code"] == "repaired"
    assert "its host was decommissioned" in failed["error"]["message"]
    events = await _events(api, run["id"])
    assert [e["type"] for e in events[-3:]] == ["repaired", "error", "status"]
    assert events[-3]["data"] | {"by": None} == {
        "action": "fail",
        "reason": "its host was decommissioned",
        "liveness": "lost",
        "previous_owner": dead,
        "by": None,
    }
    [entry] = await _repaired_audit(api, run["id"])
    assert entry["data"]["action"] == "fail" and entry["data"]["liveness"] == "lost"
    assert entry["data"]["reason"] == "its host was decommissioned"
    assert entry["actor_key_id"] == events[-3]["data"]["by"]

    again = await api.post(f"/v1/runs/{run['id']}/repair", json=body)
    assert again.status_code == 409, again.text


async def test_resuming_a_lost_run_hands_it_to_a_live_worker_which_finishes_it(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    template = await _template(api)
    run_id = new_id("run")
    # Its workflow ran once (ending before its run existed), then, as a process that died
    # leaves it, is pending on an executor that has no heartbeat row any more.
    await rt.engine.submit(run_id, here=True)
    await _workflow(rt, run_id, "SUCCESS")
    _set_workflow(rt, run_id, status="PENDING", executor_id="gone-worker")
    await _running(rt, template, owner="gone-worker", progress_at=utcnow(), run_id=run_id)
    assert (await _run(api, run_id))["liveness"] == "lost"

    r = await api.post(
        f"/v1/runs/{run_id}/repair", json={"action": "resume", "reason": "worker gone"}
    )
    assert r.status_code == 200, r.text

    done = await _ended(api, run_id)
    assert done["status"] == "succeeded", done
    types = [e["type"] for e in await _events(api, run_id)]
    assert types.index("repaired") < types.index("takeover"), types
    steps = (await api.get(f"/v1/runs/{run_id}/steps")).json()["items"]
    assert [(s["number"], s["status"]) for s in steps] == [(1, "completed"), (2, "completed")]
    [entry] = await _repaired_audit(api, run_id)
    assert entry["data"]["action"] == "resume" and entry["data"]["reason"] == "worker gone"


async def test_a_run_quiet_beyond_its_limit_is_stalled_and_resume_finishes_it(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    template = await _template(api)
    # Held by this (live) process, no event for longer than the stall limit (600 s).
    quiet = _past_stall_limit(rt)
    run = await _running(rt, template, owner=rt.engine.executor_id, progress_at=quiet)
    shown = await _run(api, run["id"])
    assert shown["liveness"] == "stalled", shown
    page = (await api.get("/v1/runs", params={"status": "running"})).json()
    assert _listed(page, run["id"])["liveness"] == "stalled"

    r = await api.post(
        f"/v1/runs/{run['id']}/repair", json={"action": "resume", "reason": "no progress"}
    )
    assert r.status_code == 200, r.text
    done = await _ended(api, run["id"])
    assert done["status"] == "succeeded", done
    assert done["liveness"] is None
    types = [e["type"] for e in await _events(api, run["id"])]
    assert "repaired" in types and "takeover" in types


async def test_a_hung_attempt_in_this_process_is_stopped_and_the_run_resumed(
    api: httpx.AsyncClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rt.settings, "run_stalled_after", 1.0)
    r = await api.post("/v1/runs", json={"agent_id": "steps", "input": {"steps": 1, "sleep": 4}})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    for _ in range(100):
        shown = await _run(api, run_id)
        if shown["liveness"] == "stalled":
            break
        await asyncio.sleep(0.1)
    assert shown["liveness"] == "stalled", shown

    r = await api.post(
        f"/v1/runs/{run_id}/repair", json={"action": "resume", "reason": "stuck in step 1"}
    )
    assert r.status_code == 200, r.text
    done = await _ended(api, run_id)
    assert done["status"] == "succeeded", done
    types = [e["type"] for e in await _events(api, run_id)]
    assert types.count("repaired") == 1 and "takeover" in types, types


async def test_a_run_is_stalled_past_its_own_time_limit_if_that_is_shorter(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    template = await _template(api)
    quiet = utcnow() - timedelta(seconds=90)
    short = await _running(rt, template, owner=rt.engine.executor_id, progress_at=quiet, timeout=60)
    long = await _running(rt, template, owner=rt.engine.executor_id, progress_at=quiet)
    page = (await api.get("/v1/runs", params={"status": "running"})).json()
    assert _listed(page, short["id"])["liveness"] == "stalled"
    assert _listed(page, long["id"])["liveness"] == "working"
    for run in (short, long):  # not left to the reconciler
        r = await api.post(f"/v1/runs/{run['id']}/cancel")
        assert r.status_code == 202, r.text


async def test_a_working_run_is_not_repaired(api: httpx.AsyncClient) -> None:
    r = await api.post("/v1/runs", json={"agent_id": "steps", "input": {"steps": 1, "sleep": 20}})
    run_id = r.json()["id"]
    for _ in range(100):
        shown = await _run(api, run_id)
        if shown["liveness"] == "working":
            break
        await asyncio.sleep(0.1)
    assert shown["liveness"] == "working" and shown["last_progress_at"], shown

    refused = await api.post(
        f"/v1/runs/{run_id}/repair", json={"action": "fail", "reason": "impatient"}
    )
    assert refused.status_code == 409, refused.text
    assert {"name": "liveness", "value": "working"} in refused.json()["details"]
    assert (await _repaired_audit(api, run_id)) == []
    await api.post(f"/v1/runs/{run_id}/cancel")
    assert (await _ended(api, run_id))["status"] == "canceled"


@pytest.mark.parametrize(
    "body",
    [
        {"action": "resume", "reason": ""},
        {"action": "resume", "reason": "   "},
        {"action": "resume"},
        {"action": "restart", "reason": "why not"},
    ],
)
async def test_a_repair_needs_a_known_action_and_a_reason(
    api: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    template = await _template(api)
    r = await api.post(f"/v1/runs/{template['id']}/repair", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["status_code"] == 422


async def test_repairing_an_unknown_run_is_a_404(api: httpx.AsyncClient) -> None:
    r = await api.post(f"/v1/runs/{new_id('run')}/repair", json={"action": "fail", "reason": "x"})
    assert r.status_code == 404, r.text


# -- liveness on every answer that is a run, and the list filtered by it -------------------


async def test_creating_or_rerunning_with_wait_answers_a_running_run_with_its_liveness(
    api: httpx.AsyncClient,
) -> None:
    body = {"agent_id": "steps", "input": {"steps": 1, "sleep": 20}, "wait": 3}
    created = await api.post("/v1/runs", json=body)
    assert created.status_code == 201, created.text
    run = created.json()
    assert run["status"] == "running", run
    assert run["liveness"] == "working" and run["last_progress_at"], run

    r = await api.post(f"/v1/runs/{run['id']}/rerun", json={"wait": 3})
    assert r.status_code == 201, r.text
    rerun = r.json()
    assert rerun["status"] == "running" and rerun["liveness"] == "working", rerun
    for run_id in (run["id"], rerun["id"]):
        await api.post(f"/v1/runs/{run_id}/cancel")
        assert (await _ended(api, run_id))["status"] == "canceled"


async def test_cancel_archive_and_budget_answers_give_a_running_runs_liveness(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    template = await _template(api)
    quiet = _past_stall_limit(rt)
    run = await _running(rt, template, owner=rt.engine.executor_id, progress_at=quiet)
    path = f"/v1/runs/{run['id']}"
    answers = {
        "archive": await api.post(f"{path}/archive"),
        "unarchive": await api.post(f"{path}/unarchive"),
        "budget": await api.put(f"{path}/budget", json={"credits": 100}),
        # Last: this run has no attempt to stop, so it stays running with the request noted.
        "cancel": await api.post(f"{path}/cancel"),
    }
    for name, r in answers.items():
        assert r.status_code in (200, 202), (name, r.text)
        shown = r.json()
        assert shown["status"] == "running" and shown["liveness"] == "stalled", (name, shown)
        assert shown["last_progress_at"] is not None, (name, shown)
    # A run that does not run has no liveness, and costs no query for it.
    assert template["liveness"] is None and template["last_progress_at"] is None
    await api.post(f"{path}/repair", json={"action": "fail", "reason": "test over"})


async def test_the_list_filtered_by_liveness_holds_exactly_the_runs_in_that_state(
    api: httpx.AsyncClient, rt: Runtime, make_client: Callable[..., Any]
) -> None:
    template = await _template(api)
    live, dead = rt.engine.executor_id, await _stale_executor(rt)
    quiet = _past_stall_limit(rt)
    lost = await _running(rt, template, owner=dead, progress_at=utcnow())
    gone = await _running(rt, template, owner="no-such-executor", progress_at=quiet)
    stalled = await _running(rt, template, owner=live, progress_at=quiet)
    # Quiet for 90 s: stalled past its own 60 s limit, working under the server's 600 s.
    minute_and_half = utcnow() - timedelta(seconds=90)
    short = await _running(rt, template, owner=live, progress_at=minute_and_half, timeout=60)
    working = await _running(rt, template, owner=live, progress_at=minute_and_half)
    unowned = await _running(rt, template, owner=None, progress_at=utcnow())
    # Another tenant's lost run is not this tenant's business.
    other = await make_client("admin")
    elsewhere = await _running(rt, await _template(other), owner=dead, progress_at=utcnow())

    async def listed(liveness: str, **params: Any) -> list[str]:
        ids: list[str] = []
        query: dict[str, Any] = {"liveness": liveness, "limit": 1, **params}
        while True:  # a page at a time: the filter holds across continuation tokens
            r = await api.get("/v1/runs", params=query)
            assert r.status_code == 200, r.text
            page = r.json()
            assert all(run["liveness"] == liveness for run in page["items"]), page
            ids += [run["id"] for run in page["items"]]
            if not page["continuation_token"]:
                return ids
            query["continuation_token"] = page["continuation_token"]

    assert await listed("lost") == [gone["id"], lost["id"]]  # newest first
    assert await listed("stalled") == [short["id"], stalled["id"]]
    assert await listed("working") == [unowned["id"], working["id"]]
    assert await listed("working", status="queued") == []
    assert await listed("lost", agent_id="steps") == [gone["id"], lost["id"]]
    other_lost = (await other.get("/v1/runs", params={"liveness": "lost"})).json()["items"]
    assert [r["id"] for r in other_lost] == [elsewhere["id"]]

    for run in (lost, gone, stalled, short, working, unowned, elsewhere):  # not left running
        async with rt.db.write() as conn:
            await store.update_run(conn, run["id"], owner=dead)
        client = other if run is elsewhere else api
        r = await client.post(
            f"/v1/runs/{run['id']}/repair", json={"action": "fail", "reason": "x"}
        )
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("value", ["dead", "WORKING", "running", ""])
async def test_listing_by_an_unknown_liveness_is_a_422_naming_the_field(
    api: httpx.AsyncClient, value: str
) -> None:
    r = await api.get("/v1/runs", params={"liveness": value})
    if value == "":
        assert r.status_code == 200, r.text  # no filter, as for an empty status
        return
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["status_code"] == 422
    assert body["details"] == [{"name": "liveness", "value": value}], body
    assert "working, stalled, lost" in body["message"]


async def _workflow(rt: Runtime, run_id: str, status: str) -> None:
    for _ in range(200):
        found = (await rt.engine.workflows([(run_id, 0)])).get(run_id)
        if found is not None and found.status == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"workflow {run_id} never became {status}")


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
