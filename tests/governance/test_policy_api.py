"""The governance policy: versions, coherence, concurrency, runs recording the version."""

import asyncio

import httpx
import sqlalchemy as sa

from runplane.services.runtime import Runtime
from runplane.store.schema import audit_events, governance_policies

HOLD = {"name": "litigation", "reason": "case 42", "keep_days": 400}


async def put(api: httpx.AsyncClient, document: dict, **extra: object) -> httpx.Response:
    return await api.put("/v1/governance/policy", json={"document": document, **extra})


async def test_version_one_is_the_default_dated_with_the_tenant(api: httpx.AsyncClient) -> None:
    r = await api.get("/v1/governance/policy")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 1 and body["created_by_key_id"] is None
    assert body["document"]["deletion"] == {
        "roles": ["admin"],
        "min_age_days": 0,
        "requires_approval": False,
    }
    assert body["document"]["retention"]["runs"] == {"days": None, "fields": {}}


async def test_a_change_makes_the_next_version_and_an_audit_row(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    doc = {"retention": {"runs": {"days": 90, "fields": {"input": 30}}}}
    r = await put(api, doc, comment="ninety days")
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["comment"] == "ninety days"
    now = (await api.get("/v1/governance/policy")).json()
    assert now["version"] == 2 and now["document"]["retention"]["runs"]["days"] == 90
    assert now["created_by_key_id"] is not None
    versions = (await api.get("/v1/governance/policy/versions")).json()
    assert [v["version"] for v in versions["items"]] == [2, 1]
    one = (await api.get("/v1/governance/policy/versions/1")).json()
    assert one["document"]["retention"]["runs"]["days"] is None
    assert (await api.get("/v1/governance/policy/versions/3")).status_code == 404
    async with rt.db.read() as conn:
        rows = (
            (
                await conn.execute(
                    sa.select(audit_events).where(
                        audit_events.c.action == "policy.updated",
                        audit_events.c.target_id == "2",
                        audit_events.c.actor_key_id == now["created_by_key_id"],
                    )
                )
            )
            .mappings()
            .all()
        )
    assert len(rows) == 1
    data = rows[0]["data"]
    assert data["from"]["retention"]["runs"]["days"] is None
    assert data["to"]["retention"]["runs"]["days"] == 90 and data["comment"] == "ninety days"


async def test_versions_page_newest_first(api: httpx.AsyncClient) -> None:
    for days in (10, 20, 30):
        assert (await put(api, {"retention": {"runs": {"days": days}}})).status_code == 200
    first = (await api.get("/v1/governance/policy/versions", params={"limit": 2})).json()
    assert [v["version"] for v in first["items"]] == [4, 3] and first["before"] == 3
    rest = (
        await api.get("/v1/governance/policy/versions", params={"limit": 2, "before": 3})
    ).json()
    assert [v["version"] for v in rest["items"]] == [2, 1] and rest["before"] is None


async def count_versions(rt: Runtime) -> int:
    async with rt.db.read() as conn:
        return int(
            (
                await conn.execute(sa.select(sa.func.count()).select_from(governance_policies))
            ).scalar_one()
        )


async def test_self_contradictory_policies_are_refused_naming_the_field(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    before = await count_versions(rt)
    cases = [
        ({"retention": {"runs": {"days": 30}}, "holds": [HOLD]}, "retention.runs.days"),
        (
            {"retention": {"runs": {"days": 30, "fields": {"result": 60}}}},
            "retention.runs.fields.result",
        ),
        ({"retention": {"files": {"days": 30, "fields": {"input": 5}}}}, "retention.files.fields"),
        (
            {
                "holds": [
                    {
                        **HOLD,
                        "created_after": "2026-06-01T00:00:00Z",
                        "created_before": "2026-01-01T00:00:00Z",
                    }
                ]
            },
            "holds[0].created_after",
        ),
        ({"holds": [HOLD, HOLD]}, "holds[1].name"),
    ]
    for doc, field in cases:
        r = await put(api, doc)
        assert r.status_code == 422, (doc, r.text)
        assert r.json()["details"][0]["name"] == field, r.json()
    r = await put(api, {"retention": {"runs": {"days": 0}}})
    assert r.status_code == 422 and "days" in str(r.json()["details"])
    r = await put(api, {"retention": {"runz": {}}})
    assert r.status_code == 422
    assert await count_versions(rt) == before
    assert (await api.get("/v1/governance/policy")).json()["version"] == 1


async def test_a_stale_base_version_is_a_conflict(api: httpx.AsyncClient) -> None:
    assert (await put(api, {}, base_version=1)).status_code == 200
    r = await put(api, {"signing": {"enabled": False}}, base_version=1)
    assert r.status_code == 409 and r.json()["details"][0]["name"] == "base_version"
    assert (await api.get("/v1/governance/policy")).json()["document"]["signing"]["enabled"]


async def test_concurrent_changes_never_share_a_version(api: httpx.AsyncClient) -> None:
    answers = await asyncio.gather(
        *(put(api, {"deletion": {"min_age_days": n}}, comment=str(n)) for n in range(6))
    )
    ok = [r.json()["version"] for r in answers if r.status_code == 200]
    assert all(r.status_code in (200, 409) for r in answers), [r.text for r in answers]
    assert len(ok) == len(set(ok)) and ok
    versions = (await api.get("/v1/governance/policy/versions")).json()["items"]
    assert len(versions) == len(ok) + 1
    assert (await api.get("/v1/governance/policy")).json()["version"] == max(ok)


async def test_only_admin_keys_change_the_policy_and_tenants_see_only_theirs(make_client) -> None:  # type: ignore[no-untyped-def]
    admin = await make_client("admin", tenant="pol-a")
    member = await make_client("member", tenant="pol-a")
    other = await make_client()
    assert (await put(member, {})).status_code == 403
    assert (await put(admin, {"deletion": {"min_age_days": 3}})).status_code == 200
    assert (await member.get("/v1/governance/policy")).json()["version"] == 2
    theirs = (await other.get("/v1/governance/policy")).json()
    assert theirs["version"] == 1 and theirs["document"]["deletion"]["min_age_days"] == 0
    assert (await other.get("/v1/governance/policy/versions/2")).status_code == 404


async def test_runs_record_the_policy_version_in_force_when_created(
    api: httpx.AsyncClient,
) -> None:
    before = (await api.post("/v1/runs", json={"agent_id": "echo", "input": {}, "wait": 10})).json()
    assert before["policy_version"] == 1
    await put(api, {"deletion": {"min_age_days": 1}})
    after = (await api.post("/v1/runs", json={"agent_id": "echo", "input": {}, "wait": 10})).json()
    assert after["policy_version"] == 2
    assert (await api.get(f"/v1/runs/{before['id']}")).json()["policy_version"] == 1
    listed = {r["id"]: r["policy_version"] for r in (await api.get("/v1/runs")).json()["items"]}
    assert listed == {before["id"]: 1, after["id"]: 2}
