"""Exports: made in the background with progress, downloaded, verified; taken over after a crash."""

import asyncio
import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from evidence_helpers import ended, members, public_keys, start, until
from fastapi import FastAPI

from runplane import AsyncClient
from runplane.client import Verdict, verify_evidence
from runplane.domain.evidence import verify_bundle
from runplane.domain.models import utcnow
from runplane.services import auth, evidence
from runplane.services.runtime import Runtime
from runplane.store import evidence as store
from runplane.store.dialect import sync_url
from runplane.store.schema import evidence_exports, tenants


async def finished(api: httpx.AsyncClient, export_id: str, timeout: float = 30) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        export = (await api.get(f"/v1/governance/exports/{export_id}")).json()
        assert export["runs_done"] <= export["runs_total"]
        if export["status"] in ("succeeded", "failed"):
            return export
        assert loop.time() < deadline, export
        await asyncio.sleep(0.05)


async def test_an_export_of_runs_builds_in_the_background_and_verifies(
    api: httpx.AsyncClient,
) -> None:
    runs = [await ended(api) for _ in range(3)]
    r = await api.post("/v1/governance/exports", json={"run_ids": [x["id"] for x in runs]})
    assert r.status_code == 202, r.text
    export = r.json()
    assert export["status"] in ("queued", "running", "succeeded") and export["runs_total"] == 3
    assert export["query"] == {"run_ids": [x["id"] for x in runs]}
    done = await finished(api, export["id"])
    assert done["status"] == "succeeded" and done["runs_done"] == 3, done
    assert done["download_url"] == f"/v1/governance/exports/{export['id']}/download"
    got = await api.get(done["download_url"])
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    assert len(got.content) == done["bytes"]
    assert hashlib.sha256(got.content).hexdigest() == done["sha256"]
    verdict = verify_bundle(got.content, await public_keys(api))
    assert verdict.ok and verdict.runs == 3, verdict.problems
    assert done["signing_key_id"] == verdict.key_id
    listed = (await api.get("/v1/governance/exports", params={"limit": 1})).json()
    assert listed["items"][0]["id"] == export["id"]
    actions = [e["action"] for e in (await api.get("/v1/audit-events")).json()["items"]]
    assert "export.created" in actions and "evidence.downloaded" in actions


async def test_a_query_exports_an_agents_ended_runs_in_a_date_range(
    api: httpx.AsyncClient,
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    mine = [await ended(api), await ended(api)]
    await ended(api, "echo", {"n": 1})
    query = {"agent_id": "artifacts", "created_after": since.isoformat()}
    r = await api.post("/v1/governance/exports", json={"query": query})
    assert r.status_code == 202, r.text
    assert r.json()["runs_total"] == 2
    done = await finished(api, r.json()["id"])
    content = members((await api.get(done["download_url"])).content)
    exported = {n.split("/")[1] for n in content if n.startswith("runs/")}
    assert exported == {x["id"] for x in mine}


async def test_bad_exports_are_refused_and_nothing_is_made(
    api: httpx.AsyncClient, make_client: object
) -> None:
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    nothing = await api.post("/v1/governance/exports", json={"query": {"created_after": future}})
    assert nothing.status_code == 422 and nothing.json()["details"][0]["name"] == "query"
    assert "matches no ended run" in nothing.json()["message"]
    unknown = await api.post("/v1/governance/exports", json={"run_ids": ["run_nope"]})
    assert unknown.status_code == 422 and "run_nope" in unknown.json()["message"]
    both = await api.post("/v1/governance/exports", json={"run_ids": ["x"], "query": {}})
    assert both.status_code == 422
    assert (await api.post("/v1/governance/exports", json={})).status_code == 422
    calls = [{"tool": "read_notes", "arguments": {"day": "Monday"}}]
    live = await start(api, "call_tools", {"calls": calls}, approval="ON_TOOL_CALL")
    await until(api, live["id"], "paused")
    busy = await api.post("/v1/governance/exports", json={"run_ids": [live["id"]]})
    assert busy.status_code == 409 and live["id"] in busy.json()["message"]
    assert (await api.get("/v1/governance/exports")).json()["items"] == []
    member = await make_client("member")  # type: ignore[operator]
    assert (await member.post("/v1/governance/exports", json={"run_ids": ["x"]})).status_code == 403
    assert (await member.get("/v1/governance/exports")).status_code == 403


async def test_an_unfinished_export_is_not_downloaded_and_other_tenants_see_none(
    api: httpx.AsyncClient, make_client: object, rt: Runtime
) -> None:
    run = await ended(api)
    r = await api.post("/v1/governance/exports", json={"run_ids": [run["id"]]})
    export_id = r.json()["id"]
    await finished(api, export_id)
    tenant = (await store_export(rt, export_id))["tenant_id"]
    queued = await _stale_export(rt, tenant, [run["id"]], owner=rt.engine.executor_id, age=0)
    refused = await api.get(f"/v1/governance/exports/{queued}/download")
    assert refused.status_code == 409 and "queued" in refused.json()["message"]
    other = await make_client()  # type: ignore[operator]
    assert (await other.get(f"/v1/governance/exports/{export_id}")).status_code == 404
    assert (await other.get(f"/v1/governance/exports/{export_id}/download")).status_code == 404


async def test_an_export_whose_builder_died_is_taken_over_and_finished(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    runs = [await ended(api) for _ in range(2)]
    r = await api.post("/v1/governance/exports", json={"run_ids": [runs[0]["id"]]})
    tenant = (await store_export(rt, r.json()["id"]))["tenant_id"]
    dead = await _stale_export(rt, tenant, [x["id"] for x in runs], owner="gone-1", age=3600)
    live = await _stale_export(rt, tenant, [runs[0]["id"]], owner="alive-1", age=0)
    # The process's own loop calls the same function every beat: either may take it first.
    taken = await evidence.resume_stale(rt)
    assert live not in taken
    assert dead not in await evidence.resume_stale(rt)  # taken once, not twice
    done = await finished(api, dead)
    assert done["status"] == "succeeded" and done["runs_done"] == 2
    row = await store_export(rt, dead)
    assert row["owner"] == rt.engine.executor_id
    got = await api.get(done["download_url"])
    assert verify_bundle(got.content, await public_keys(api)).ok


async def store_export(rt: Runtime, export_id: str) -> dict:
    async with rt.db.read() as conn:
        q = sa.select(evidence_exports).where(evidence_exports.c.id == export_id)
        row = (await conn.execute(q)).mappings().one()
    return dict(row)


async def _stale_export(
    rt: Runtime, tenant: str, run_ids: list[str], owner: str, age: float
) -> str:
    export_id = f"exp_{uuid.uuid4().hex[:20]}"
    now = utcnow()
    async with rt.db.write() as conn:
        await store.insert_export(
            conn,
            {
                "id": export_id,
                "tenant_id": tenant,
                "query": {"run_ids": run_ids, "resolved_run_ids": run_ids},
                "status": "running" if age else "queued",
                "runs_total": len(run_ids),
                "runs_done": 1 if age else 0,
                "bytes": 0,
                "sha256": None,
                "location": None,
                "signing_key_id": None,
                "error": None,
                "owner": owner,
                "heartbeat_at": now - timedelta(seconds=age),
                "created_at": now,
                "created_by_key_id": None,
                "finished_at": None,
            },
        )
    return export_id


def test_a_live_server_finishes_an_export_whose_builder_died(live_server: Any) -> None:
    """A real server process takes over, in its background loop, an export left by a dead one."""
    with live_server.client() as api:
        run = api.post(
            "/v1/runs", json={"agent_id": "artifacts", "input": {"parts": 1}, "wait": 30}
        )
        assert run.json()["status"] == "succeeded", run.text
        engine = sa.create_engine(sync_url(live_server.database_url))
        try:
            with engine.begin() as conn:
                tenant = conn.execute(
                    sa.select(tenants.c.id).where(tenants.c.name == "live")
                ).scalar_one()
                export_id = f"exp_{uuid.uuid4().hex[:20]}"
                now = utcnow()
                conn.execute(
                    evidence_exports.insert().values(
                        id=export_id,
                        tenant_id=tenant,
                        query={
                            "run_ids": [run.json()["id"]],
                            "resolved_run_ids": [run.json()["id"]],
                        },
                        status="running",
                        runs_total=1,
                        owner="a-process-that-died",
                        heartbeat_at=now - timedelta(hours=1),
                        created_at=now,
                    )
                )
        finally:
            engine.dispose()
        deadline = time.monotonic() + 30
        while (export := api.get(f"/v1/governance/exports/{export_id}").json())[
            "status"
        ] != "succeeded":
            assert time.monotonic() < deadline, export
            time.sleep(0.2)
        got = api.get(export["download_url"])
        keys = [k["public_key"] for k in api.get("/v1/governance/keys").json()["items"]]
    assert verify_bundle(got.content, keys).ok


async def test_the_async_client_exports_waits_downloads_and_verifies_offline(
    app: FastAPI, rt: Runtime
) -> None:
    key = await auth.create_key(rt.db, f"t-cl-{uuid.uuid4().hex[:8]}", None, "admin")
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("http://runplane.test", key, transport=transport) as client:
        run = await client.runs.create("artifacts", {"parts": 1}, wait=30)
        one = await client.evidence.run_bundle(run.id)
        started = await client.evidence.export(agent_id="artifacts")
        done = await client.evidence.wait_export(started.id, timeout=30, poll=0.05)
        assert done.status == "succeeded" and done.runs_total == 1
        assert [e.id for e in (await client.evidence.list_exports()).items] == [done.id]
        data = await client.evidence.download_export(done.id)
        pems = [k.public_key for k in (await client.evidence.keys()).items]
    for bundle in (one, data):
        verdict = verify_evidence(bundle, pems)
        assert isinstance(verdict, Verdict) and verdict.ok and verdict.runs == 1
