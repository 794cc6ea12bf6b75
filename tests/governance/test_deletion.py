"""Deleting a run when the policy permits it: refusals say why and change nothing; a
delete keeps a tombstone that still verifies; approval by a second admin."""

import httpx
import sqlalchemy as sa

from runplane.services.runtime import Runtime
from runplane.store.schema import audit_events, events, run_tombstones, steps


async def finished(api: httpx.AsyncClient, agent: str = "steps", input: object = None) -> dict:
    body = {"agent_id": agent, "input": {"steps": 2} if input is None else input, "wait": 15}
    r = await api.post("/v1/runs", json=body)
    assert r.status_code == 201 and r.json()["status"] == "succeeded", r.text
    return r.json()


async def policy(api: httpx.AsyncClient, document: dict) -> int:
    r = await api.put("/v1/governance/policy", json={"document": document})
    assert r.status_code == 200, r.text
    return int(r.json()["version"])


async def unchanged(api: httpx.AsyncClient, rt: Runtime, run: dict) -> None:
    """The run is all there: readable, its log whole and verifying, its steps, no tombstone."""
    assert (await api.get(f"/v1/runs/{run['id']}")).status_code == 200
    check = (await api.get(f"/v1/runs/{run['id']}/verify")).json()
    assert check["ok"] and check["events"] > 0 and check["deleted"] is False
    listed = (await api.get(f"/v1/runs/{run['id']}/steps")).json()["items"]
    async with rt.db.read() as conn:
        tomb = (
            await conn.execute(
                sa.select(run_tombstones).where(run_tombstones.c.run_id == run["id"])
            )
        ).first()
        stored = (
            await conn.execute(sa.select(sa.func.count()).where(steps.c.run_id == run["id"]))
        ).scalar_one()
    assert tomb is None and listed and stored == len(listed)


async def test_a_delete_keeps_a_tombstone_that_verifies(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    run = await finished(api)
    before = (await api.get(f"/v1/runs/{run['id']}/verify")).json()
    async with rt.db.read() as conn:
        head = (
            await conn.execute(
                sa.select(events.c.seq, events.c.hash)
                .where(events.c.run_id == run["id"])
                .order_by(events.c.seq.desc())
            )
        ).first()
    r = await api.delete(f"/v1/runs/{run['id']}", params={"reason": "customer asked"})
    assert r.status_code == 204, r.text
    gone = await api.get(f"/v1/runs/{run['id']}")
    assert gone.status_code == 410 and "was deleted" in gone.json()["message"]
    summary = {d["name"]: d["value"] for d in gone.json()["details"]}["tombstone"]
    assert summary["reason"] == "customer asked" and summary["status"] == "succeeded"
    assert summary["last_seq"] == head[0] and summary["last_hash"] == head[1]
    check = (await api.get(f"/v1/runs/{run['id']}/verify")).json()
    assert check == {
        "ok": True,
        "events": before["events"],
        "first_bad_seq": None,
        "deleted": True,
        "last_hash": head[1],
    }
    tombs = (await api.get("/v1/governance/tombstones")).json()["items"]
    assert [t["run_id"] for t in tombs] == [run["id"]]
    tomb = tombs[0]
    assert tomb["policy_version"] == 1 and tomb["deleted_by"]
    assert set(tomb["hashes"]["steps"]) == {"1", "2"} and len(tomb["hashes"]["input"]) == 64
    assert tomb["hashes"]["counts"]["events"] == head[0]
    async with rt.db.read() as conn:
        left = (
            await conn.execute(sa.select(sa.func.count()).where(events.c.run_id == run["id"]))
        ).scalar_one()
        audited = (
            await conn.execute(
                sa.select(audit_events.c.data).where(
                    audit_events.c.action == "run.deleted", audit_events.c.target_id == run["id"]
                )
            )
        ).scalar_one()
    assert left == 0
    assert audited["reason"] == "customer asked" and audited["tombstone"]["last_hash"] == head[1]
    assert (await api.get(f"/v1/runs/{run['id']}/events")).status_code == 410
    assert (await api.delete(f"/v1/runs/{run['id']}")).status_code == 410


async def test_a_held_run_is_not_deleted_and_the_refusal_names_each_hold(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    run = await finished(api)
    on_run = (
        await api.post("/v1/governance/holds", json={"run_id": run["id"], "reason": "case 1"})
    ).json()
    on_agent = (
        await api.post("/v1/governance/holds", json={"agent_id": "steps", "reason": "case 2"})
    ).json()
    r = await api.delete(f"/v1/runs/{run['id']}")
    assert r.status_code == 409, r.text
    named = [d["value"] for d in r.json()["details"]]
    assert {"id": on_run["id"], "reason": "case 1"} in named
    assert {"id": on_agent["id"], "reason": "case 2"} in named
    assert "legal hold" in r.json()["message"]
    await unchanged(api, rt, run)
    await api.post(f"/v1/governance/holds/{on_run['id']}/release")
    assert (await api.delete(f"/v1/runs/{run['id']}")).status_code == 409
    await api.post(f"/v1/governance/holds/{on_agent['id']}/release")
    assert (await api.delete(f"/v1/runs/{run['id']}")).status_code == 204


async def test_a_standing_hold_of_the_policy_keeps_its_runs_for_keep_days(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    run = await finished(api)
    hold = {
        "name": "audit-2026",
        "reason": "annual audit",
        "agent_id": run["agent_id"],
        "keep_days": 30,
    }
    await policy(api, {"holds": [hold]})
    r = await api.delete(f"/v1/runs/{run['id']}")
    assert r.status_code == 409
    assert r.json()["details"] == [
        {"name": "hold", "value": {"id": "policy:audit-2026", "reason": "annual audit"}}
    ]
    await unchanged(api, rt, run)


async def test_roles_and_age_follow_the_policy(make_client, rt: Runtime) -> None:  # type: ignore[no-untyped-def]
    admin = await make_client("admin", tenant="del-roles")
    member = await make_client("member", tenant="del-roles")
    run = await finished(admin)
    r = await member.delete(f"/v1/runs/{run['id']}")
    assert r.status_code == 403 and "policy version 1" in r.json()["message"]
    await policy(admin, {"deletion": {"roles": ["admin", "member"], "min_age_days": 2}})
    r = await member.delete(f"/v1/runs/{run['id']}")
    assert r.status_code == 409, r.text
    details = {d["name"]: d["value"] for d in r.json()["details"]}
    assert (
        details["min_age_days"] == 2 and details["age_days"] < 1 and details["policy_version"] == 2
    )
    await unchanged(admin, rt, run)
    await policy(admin, {"deletion": {"roles": ["admin", "member"]}})
    assert (await member.delete(f"/v1/runs/{run['id']}")).status_code == 204


async def test_a_live_run_is_not_deleted(api: httpx.AsyncClient) -> None:
    live = (
        await api.post("/v1/runs", json={"agent_id": "steps", "input": {"steps": 1, "sleep": 30}})
    ).json()
    r = await api.delete(f"/v1/runs/{live['id']}")
    assert r.status_code == 409 and r.json()["details"][0]["name"] == "status"
    await api.post(f"/v1/runs/{live['id']}/cancel")


async def test_deletion_with_approval_needs_a_second_admin(make_client, rt: Runtime) -> None:  # type: ignore[no-untyped-def]
    first = await make_client("admin", tenant="del-approve")
    second = await make_client("admin", tenant="del-approve")
    await policy(first, {"deletion": {"requires_approval": True}})
    run = await finished(first)
    r = await first.delete(f"/v1/runs/{run['id']}", params={"reason": "gdpr"})
    assert r.status_code == 202, r.text
    request = r.json()
    assert (
        request["status"] == "pending"
        and request["run_id"] == run["id"]
        and request["reason"] == "gdpr"
    )
    assert (await first.delete(f"/v1/runs/{run['id']}")).status_code == 409
    await unchanged(first, rt, run)
    pending = (await second.get("/v1/governance/deletions", params={"status": "pending"})).json()[
        "items"
    ]
    assert [p["id"] for p in pending] == [request["id"]]
    own = await first.post(f"/v1/governance/deletions/{request['id']}/approve")
    assert own.status_code == 403
    await unchanged(first, rt, run)
    ok = await second.post(
        f"/v1/governance/deletions/{request['id']}/approve", json={"comment": "fine"}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "approved" and ok.json()["comment"] == "fine"
    assert (await first.get(f"/v1/runs/{run['id']}")).status_code == 410
    tomb = (await first.get("/v1/governance/tombstones")).json()["items"][0]
    assert tomb["reason"] == "gdpr" and tomb["deleted_by"] == request["requested_by_key_id"]
    again = await second.post(f"/v1/governance/deletions/{request['id']}/reject")
    assert again.status_code == 409
    rows = (await second.get("/v1/governance/activity", params={"resource_id": run["id"]})).json()
    done = {(r["action"], r["actor_key_id"]) for r in rows["items"]}
    asker, approver = request["requested_by_key_id"], ok.json()["decided_by_key_id"]
    assert {("deletion.requested", asker), ("deletion.approved", approver)} <= done
    assert ("run.deleted", approver) in done


async def test_a_rejected_request_leaves_the_run(make_client, rt: Runtime) -> None:  # type: ignore[no-untyped-def]
    first = await make_client("admin", tenant="del-reject")
    second = await make_client("admin", tenant="del-reject")
    await policy(first, {"deletion": {"requires_approval": True}})
    run = await finished(first)
    request = (await first.delete(f"/v1/runs/{run['id']}")).json()
    r = await second.post(f"/v1/governance/deletions/{request['id']}/reject")
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    await unchanged(first, rt, run)


async def test_another_tenant_cannot_delete_or_see_tombstones(make_client) -> None:  # type: ignore[no-untyped-def]
    mine = await make_client()
    other = await make_client()
    run = await finished(mine)
    assert (await other.delete(f"/v1/runs/{run['id']}")).status_code == 404
    assert (await mine.delete(f"/v1/runs/{run['id']}")).status_code == 204
    assert (await other.get(f"/v1/runs/{run['id']}")).status_code == 404
    assert (await other.get(f"/v1/runs/{run['id']}/verify")).status_code == 404
    assert (await other.get("/v1/governance/tombstones")).json()["items"] == []


async def test_an_approval_after_a_hold_was_made_is_refused_and_the_request_waits(
    make_client, rt: Runtime
) -> None:  # type: ignore[no-untyped-def]
    first = await make_client("admin", tenant="del-held-later")
    second = await make_client("admin", tenant="del-held-later")
    await policy(first, {"deletion": {"requires_approval": True}})
    run = await finished(first)
    request = (await first.delete(f"/v1/runs/{run['id']}")).json()
    await second.post("/v1/governance/holds", json={"run_id": run["id"], "reason": "new matter"})
    r = await second.post(f"/v1/governance/deletions/{request['id']}/approve")
    assert r.status_code == 409 and "new matter" in r.json()["message"]
    await unchanged(first, rt, run)
    waiting = (await first.get("/v1/governance/deletions")).json()["items"]
    assert [(w["id"], w["status"]) for w in waiting] == [(request["id"], "pending")]


SMALL_AGENT = {
    "name": "metered",
    "kind": "steps",
    "model": {"name": "offline"},
    "steps": [{"name": "only", "instructions": "Say hello to {{ input.who }}"}],
}


async def test_usage_totals_do_not_change_when_a_run_is_deleted(api: httpx.AsyncClient) -> None:
    made = await api.post("/v1/agents", json=SMALL_AGENT)
    assert made.status_code == 201, made.text
    revision = made.json()["revision"]["id"]
    body = {"agent_id": "metered", "revision_id": revision, "input": {"who": "you"}, "wait": 30}
    run = (await api.post("/v1/runs", json=body)).json()
    assert run["status"] == "succeeded", run
    before = {
        g: (await api.get("/v1/usage", params={"group_by": g})).json()
        for g in ("agent", "model", "day")
    }
    assert before["agent"]["items"] and before["agent"]["items"][0]["usage"]["input_tokens"] > 0, (
        before
    )
    assert (await api.delete(f"/v1/runs/{run['id']}")).status_code == 204
    after = {
        g: (await api.get("/v1/usage", params={"group_by": g})).json()
        for g in ("agent", "model", "day")
    }
    assert after == before
    tomb = (await api.get("/v1/governance/tombstones")).json()["items"][0]
    assert (
        tomb["hashes"]["counts"]["input_tokens"]
        == before["agent"]["items"][0]["usage"]["input_tokens"]
    )
