"""The retention sweep: the policy's retention applied by the same rules as a delete
(held runs never swept), recorded in the activity log, one sweep per interval."""

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

from runplane.domain.models import utcnow
from runplane.services import retention
from runplane.services.runtime import Runtime
from runplane.store import governance
from runplane.store.schema import audit_events, evidence_exports, files, runs, steps


async def finished(api: httpx.AsyncClient, input: object) -> dict:
    r = await api.post("/v1/runs", json={"agent_id": "steps", "input": input, "wait": 15})
    assert r.status_code == 201 and r.json()["status"] == "succeeded", r.text
    return r.json()


async def age(rt: Runtime, run_id: str, days: int) -> None:
    """Make a run (and its files) look ``days`` old."""
    at = utcnow() - timedelta(days=days)
    async with rt.db.write() as conn:
        await conn.execute(runs.update().where(runs.c.id == run_id).values(created_at=at))
        await conn.execute(files.update().where(files.c.run_id == run_id).values(created_at=at))


async def policy(api: httpx.AsyncClient, document: dict) -> int:
    r = await api.put("/v1/governance/policy", json={"document": document})
    assert r.status_code == 200, r.text
    return int(r.json()["version"])


async def sweep_of(rt: Runtime, tenant_id: str) -> retention.Swept:
    return (await retention.sweep(rt))[tenant_id]


async def tenant_of(api: httpx.AsyncClient, run: dict, rt: Runtime) -> str:
    async with rt.db.read() as conn:
        found = (
            await conn.execute(sa.select(runs.c.tenant_id).where(runs.c.id == run["id"]))
        ).scalar_one()
    return str(found)


async def test_old_runs_are_tombstoned_held_ones_kept_and_the_sweep_recorded(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    old, held, young = [await finished(api, {"steps": 1}) for _ in range(3)]
    tenant = await tenant_of(api, old, rt)
    for run in (old, held):
        await age(rt, run["id"], 40)
    hold = await api.post("/v1/governance/holds", json={"run_id": held["id"], "reason": "case 9"})
    assert hold.status_code == 201
    version = await policy(api, {"retention": {"runs": {"days": 30}}})
    swept = await sweep_of(rt, tenant)
    assert swept.runs == [old["id"]]
    gone = await api.get(f"/v1/runs/{old['id']}")
    assert gone.status_code == 410
    tomb = {d["name"]: d["value"] for d in gone.json()["details"]}["tombstone"]
    assert tomb["deleted_by"] == "retention" and f"policy version {version}" in tomb["reason"]
    assert (await api.get(f"/v1/runs/{held['id']}")).status_code == 200
    assert (await api.get(f"/v1/runs/{young['id']}")).status_code == 200
    async with rt.db.read() as conn:
        row = (
            (
                await conn.execute(
                    sa.select(audit_events).where(
                        audit_events.c.tenant_id == tenant,
                        audit_events.c.action == "retention.swept",
                    )
                )
            )
            .mappings()
            .one()
        )
    assert row["actor_type"] == "system" and row["actor_key_id"] == "system"
    assert row["data"]["runs_deleted"] == 1 and row["data"]["run_ids"] == [old["id"]]
    assert row["data"]["policy_version"] == version
    # A second sweep finds nothing more and records nothing.
    assert (await sweep_of(rt, tenant)).empty()
    await api.post(f"/v1/governance/holds/{hold.json()['id']}/release")
    assert (await sweep_of(rt, tenant)).runs == [held["id"]]


async def test_field_retention_removes_content_and_keeps_its_hashes(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    run = await finished(api, {"steps": 2})
    tenant = await tenant_of(api, run, rt)
    await age(rt, run["id"], 10)
    version = await policy(
        api,
        {
            "retention": {
                "runs": {"days": 365, "fields": {"input": 5, "step_outputs": 5, "result": 30}}
            }
        },
    )
    swept = await sweep_of(rt, tenant)
    assert swept.runs == [] and swept.fields == {
        "input": [run["id"]],
        "step_outputs": [run["id"]],
        "result": [],
    }
    now = (await api.get(f"/v1/runs/{run['id']}")).json()
    assert now["input"] is None and now["result"] is not None
    async with rt.db.read() as conn:
        redacted = (
            await conn.execute(sa.select(runs.c.redacted).where(runs.c.id == run["id"]))
        ).scalar_one()
        outputs = (
            (await conn.execute(sa.select(steps.c.output).where(steps.c.run_id == run["id"])))
            .scalars()
            .all()
        )
    assert set(redacted) == {"input", "step_outputs"}
    assert len(redacted["input"]["sha256"]) == 64 and redacted["input"]["policy_version"] == version
    assert set(redacted["step_outputs"]["sha256"]) == {"1", "2"}
    assert outputs and all(o is None for o in outputs)
    # The event log stays whole: the chain still verifies.
    assert (await api.get(f"/v1/runs/{run['id']}/verify")).json()["ok"]
    assert (await sweep_of(rt, tenant)).empty()


async def test_old_activity_is_removed(api: httpx.AsyncClient, rt: Runtime) -> None:
    run = await finished(api, {"steps": 1})
    tenant = await tenant_of(api, run, rt)
    await policy(api, {"retention": {"activity": {"days": 7}}})
    async with rt.db.write() as conn:
        aged = await conn.execute(
            audit_events.update()
            .where(audit_events.c.tenant_id == tenant)
            .values(at=utcnow() - timedelta(days=8))
        )
    assert aged.rowcount >= 2  # the run's creation and the policy's change
    swept = await sweep_of(rt, tenant)
    assert swept.activity == aged.rowcount


async def test_one_process_sweeps_per_interval(rt: Runtime) -> None:
    name, every, now = f"test-{uuid.uuid4().hex[:8]}", timedelta(hours=1), utcnow()
    async with rt.db.write() as conn:
        assert await governance.claim_sweep(conn, name, "p1", now, every)
        assert not await governance.claim_sweep(conn, name, "p2", now + every / 2, every)
        assert await governance.claim_sweep(conn, name, "p2", now + every, every)


async def test_old_files_go_but_held_ones_stay(api: httpx.AsyncClient, rt: Runtime) -> None:
    site = (await api.post("/v1/sites", json={"name": f"s-{uuid.uuid4().hex[:6]}"})).json()
    made = []
    for name in ("old.txt", "held.txt", "new.txt"):
        r = await api.post(
            "/v1/files", data={"site_id": site["id"]}, files={"file": (name, name.encode())}
        )
        made.append(r.json())
    old, held, new = made
    await api.post(f"/v1/files/{held['id']}/hold", json={"reason": "matter 5"})
    async with rt.db.write() as conn:
        await conn.execute(
            files.update()
            .where(files.c.id.in_([old["id"], held["id"]]))
            .values(created_at=utcnow() - timedelta(days=9))
        )
        tenant = (
            await conn.execute(sa.select(files.c.tenant_id).where(files.c.id == old["id"]))
        ).scalar_one()
    await policy(api, {"retention": {"files": {"days": 5}}})
    assert (await sweep_of(rt, tenant)).files == 1
    assert (await api.get(f"/v1/files/{old['id']}")).status_code == 404
    assert (await api.get(f"/v1/files/{held['id']}")).status_code == 200
    assert (await api.get(f"/v1/files/{new['id']}")).status_code == 200


async def test_old_evidence_exports_go_with_their_zips_new_ones_stay(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    run = await finished(api, {"steps": 1})
    tenant = await tenant_of(api, run, rt)
    await policy(api, {"retention": {"exports": {"days": 1}}})
    made = []
    for _ in range(2):
        r = await api.post("/v1/governance/exports", json={"run_ids": [run["id"]]})
        assert r.status_code == 202, r.text
        made.append(r.json()["id"])
    for export_id in made:
        for _ in range(300):
            export = (await api.get(f"/v1/governance/exports/{export_id}")).json()
            if export["status"] == "succeeded":
                break
            await asyncio.sleep(0.05)
        assert export["status"] == "succeeded", export
    old, new = made
    async with rt.db.write() as conn:
        await conn.execute(
            evidence_exports.update()
            .where(evidence_exports.c.id == old)
            .values(finished_at=utcnow() - timedelta(days=2))
        )
        location = (
            await conn.execute(
                sa.select(evidence_exports.c.location).where(evidence_exports.c.id == old)
            )
        ).scalar_one()
    assert Path(location).exists()
    swept = await sweep_of(rt, tenant)
    assert swept.exports == 1
    assert not Path(location).exists()
    assert (await api.get(f"/v1/governance/exports/{old}")).status_code == 404
    kept = await api.get(f"/v1/governance/exports/{new}/download")
    assert kept.status_code == 200 and kept.content[:2] == b"PK"
