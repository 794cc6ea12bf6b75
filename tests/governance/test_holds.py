"""Legal holds: on a run, an agent, a query; audited; released; isolated per tenant."""

import httpx
import sqlalchemy as sa

from runplane.services.runtime import Runtime
from runplane.store.schema import audit_events, legal_holds


async def echo(api: httpx.AsyncClient, agent: str = "echo") -> dict:
    r = await api.post("/v1/runs", json={"agent_id": agent, "input": {}, "wait": 10})
    assert r.status_code == 201, r.text
    return r.json()


async def hold(api: httpx.AsyncClient, **body: object) -> httpx.Response:
    return await api.post("/v1/governance/holds", json={"reason": "case 7", **body})


async def test_a_run_hold_is_made_listed_read_and_released_with_audit(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    run = await echo(api)
    r = await hold(api, run_id=run["id"])
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["scope"] == "run" and made["run_id"] == run["id"] and made["active"]
    assert made["matched_runs"] == 1 and made["reason"] == "case 7"
    listed = (await api.get("/v1/governance/holds")).json()["items"]
    assert [h["id"] for h in listed] == [made["id"]]
    assert (await api.get(f"/v1/governance/holds/{made['id']}")).json()["active"]
    released = (await api.post(f"/v1/governance/holds/{made['id']}/release")).json()
    assert released["active"] is False and released["released_by_key_id"] is not None
    again = await api.post(f"/v1/governance/holds/{made['id']}/release")
    assert again.status_code == 409
    assert (await api.get("/v1/governance/holds")).json()["items"] == []
    everything = (await api.get("/v1/governance/holds", params={"include_released": True})).json()
    assert [h["id"] for h in everything["items"]] == [made["id"]]
    async with rt.db.read() as conn:
        actions = (
            await conn.execute(
                sa.select(audit_events.c.action, audit_events.c.data)
                .where(audit_events.c.target_id == made["id"])
                .order_by(audit_events.c.at)
            )
        ).all()
    assert [a for a, _ in actions] == ["hold.created", "hold.released"]
    assert actions[0][1]["reason"] == "case 7"


async def test_agent_and_query_holds_count_the_runs_they_keep(api: httpx.AsyncClient) -> None:
    first = await echo(api)
    await echo(api)
    by_agent = (await hold(api, agent_id="echo")).json()
    assert by_agent["scope"] == "agent" and by_agent["agent_id"] == first["agent_id"]
    assert by_agent["matched_runs"] == 2
    query = {"agent_id": "echo", "created_before": first["updated_at"], "status": "succeeded"}
    by_query = await hold(api, query=query)
    assert by_query.status_code == 201, by_query.text
    assert by_query.json()["matched_runs"] == 1
    assert by_query.json()["query"]["agent_id"] == first["agent_id"]


async def test_bad_holds_are_refused_and_nothing_is_stored(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    run = await echo(api)
    cases = [
        ({"run_id": run["id"], "agent_id": "echo"}, 422),
        ({}, 422),
        ({"query": {"agent_id": "echo", "status": "failed"}}, 422),
        (
            {
                "query": {
                    "created_after": "2026-06-01T00:00:00Z",
                    "created_before": "2026-01-01T00:00:00Z",
                }
            },
            422,
        ),
        ({"run_id": "run_nope"}, 404),
        ({"agent_id": "no-such-agent"}, 404),
    ]
    for body, status in cases:
        r = await hold(api, **body)
        assert r.status_code == status, (body, r.text)
    r = await hold(api, query={"agent_id": "echo", "status": "failed"})
    assert "matches no run" in r.json()["message"]
    blank = await api.post("/v1/governance/holds", json={"run_id": run["id"], "reason": "  "})
    assert blank.status_code == 422
    async with rt.db.read() as conn:
        stored = (
            await conn.execute(sa.select(sa.func.count()).where(legal_holds.c.run_id == run["id"]))
        ).scalar_one()
    assert stored == 0


async def test_holds_are_admin_only_and_per_tenant(make_client) -> None:  # type: ignore[no-untyped-def]
    admin = await make_client("admin", tenant="holds-a")
    member = await make_client("member", tenant="holds-a")
    other = await make_client()
    run = await echo(admin)
    made = (await hold(admin, run_id=run["id"])).json()
    assert (await hold(member, run_id=run["id"])).status_code == 403
    assert (await member.get("/v1/governance/holds")).status_code == 403
    assert (await other.get(f"/v1/governance/holds/{made['id']}")).status_code == 404
    assert (await other.post(f"/v1/governance/holds/{made['id']}/release")).status_code == 404
    assert (await other.get("/v1/governance/holds")).json()["items"] == []
    assert (await hold(other, run_id=run["id"])).status_code == 404
    assert (await admin.get(f"/v1/governance/holds/{made['id']}")).json()["active"]
