"""``/v1/triggers``: create, read, change, delete; bad input stores nothing; state changes."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest


async def make(api: httpx.AsyncClient, **body: object) -> dict:
    r = await api.post("/v1/triggers", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_schedule_shows_its_next_five_fire_times_in_its_time_zone(
    api: httpx.AsyncClient,
) -> None:
    made = await make(
        api,
        kind="schedule",
        agent_id="echo",
        name="mornings",
        schedule="30 9 * * *",
        timezone="Asia/Kolkata",
        input={"message": "good morning"},
        variables={"team": "ops"},
    )
    assert made["id"].startswith("trg_") and made["object"] == "trigger"
    assert made["secret"] is None and made["hook_url"] is None
    times = [at(t) for t in made["next_fire_times"]]
    assert len(times) == 5 and times == sorted(times) and at(made["next_fire_at"]) == times[0]
    for t in times:  # 09:30 in Kolkata is 04:00 UTC
        assert (t.hour, t.minute) == (4, 0) and t.utcoffset() == timedelta(0)
    assert times[1] - times[0] == timedelta(days=1)
    got = (await api.get(f"/v1/triggers/{made['id']}")).json()
    assert got == made
    listed = (await api.get("/v1/triggers", params={"kind": "schedule"})).json()
    assert [t["id"] for t in listed["items"]] == [made["id"]]


async def test_a_trigger_is_changed_and_deleted(api: httpx.AsyncClient) -> None:
    made = await make(api, kind="schedule", agent_id="echo", schedule="0 * * * *", input={})
    r = await api.patch(
        f"/v1/triggers/{made['id']}",
        json={"schedule": "*/15 * * * *", "input": {"n": 2}, "catch_up": "skip"},
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["schedule"] == "*/15 * * * *" and changed["catch_up"] == "skip"
    assert changed["input"] == {"n": 2}
    assert all(at(t).minute % 15 == 0 for t in changed["next_fire_times"])
    assert (await api.get(f"/v1/triggers/{made['id']}")).json()["input"] == {"n": 2}
    assert (await api.delete(f"/v1/triggers/{made['id']}")).status_code == 204
    r = await api.get(f"/v1/triggers/{made['id']}")
    assert r.status_code == 404 and r.json()["details"][0]["name"] == "trigger_id"


async def test_pause_resume_disable_enable(api: httpx.AsyncClient) -> None:
    made = await make(api, kind="schedule", agent_id="echo", schedule="0 * * * *", input={})
    base = f"/v1/triggers/{made['id']}"
    paused = (await api.post(f"{base}/pause")).json()
    assert paused["paused"] is True and paused["next_fire_at"] is None
    assert paused["next_fire_times"] == []
    resumed = (await api.post(f"{base}/resume")).json()
    assert resumed["paused"] is False and resumed["next_fire_at"] == made["next_fire_at"]
    disabled = (await api.post(f"{base}/disable")).json()
    assert disabled["enabled"] is False and disabled["next_fire_at"] is None
    assert [
        t["id"] for t in (await api.get("/v1/triggers", params={"enabled": False})).json()["items"]
    ] == [made["id"]]
    enabled = (await api.post(f"{base}/enable")).json()
    assert enabled["enabled"] is True and enabled["next_fire_at"] == made["next_fire_at"]


async def test_only_schedules_pause(api: httpx.AsyncClient) -> None:
    hook = await make(api, kind="webhook", agent_id="echo")
    r = await api.post(f"/v1/triggers/{hook['id']}/pause")
    assert r.status_code == 422 and r.json()["details"][0]["name"] == "paused"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"schedule": "every day at nine"}, 422, "schedule"),
        ({"schedule": "61 * * * *"}, 422, "schedule"),
        ({"schedule": "0 0 30 2 *"}, 422, "schedule"),  # February 30th: never
        ({"schedule": "0 9 * * *", "timezone": "Mars/Olympus_Mons"}, 422, "timezone"),
        ({"schedule": None}, 422, "schedule"),
        (
            {
                "schedule": "0 9 * * *",
                "end_at": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
            },
            422,
            "end_at",
        ),
        ({"schedule": "0 9 * * *", "agent_id": "no-such-agent"}, 404, "agent_id"),
        (
            {"schedule": "0 9 * * *", "agent_id": "steps", "input": {"steps": "many"}},
            422,
            "input.steps",
        ),
        ({"kind": "webhook", "agent_id": "steps", "mapping": {"nope": "/x"}}, 422, "mapping.nope"),
        ({"kind": "webhook", "mapping": {"message": "issue/title"}}, 422, "mapping.message"),
        ({"kind": "webhook", "schedule": "0 9 * * *"}, 422, "schedule"),
        ({"kind": "gossip"}, 422, "kind"),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    api: httpx.AsyncClient, body: dict, status: int, field: str
) -> None:
    r = await api.post("/v1/triggers", json={"kind": "schedule", "agent_id": "echo", **body})
    assert r.status_code == status, r.text
    names = [d["name"] for d in r.json()["details"]]
    assert any(n == field or n.endswith(field) for n in names), (names, r.json()["message"])
    assert (await api.get("/v1/triggers")).json()["items"] == []


async def test_a_mapping_that_fits_the_agents_schema_is_accepted(api: httpx.AsyncClient) -> None:
    made = await make(api, kind="webhook", agent_id="steps", mapping={"steps": "/count"})
    assert made["mapping"] == {"steps": "/count"}


async def test_triggers_are_the_tenants_own(make_client) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = await make_client(), await make_client()
    made = await make(mine, kind="schedule", agent_id="echo", schedule="0 9 * * *", input={})
    assert (await theirs.get(f"/v1/triggers/{made['id']}")).status_code == 404
    assert (await theirs.delete(f"/v1/triggers/{made['id']}")).status_code == 404
    assert (await theirs.get("/v1/triggers")).json()["items"] == []


async def test_a_start_without_a_time_zone_is_refused(api: httpx.AsyncClient) -> None:
    r = await api.post(
        "/v1/triggers",
        json={
            "kind": "schedule",
            "agent_id": "echo",
            "schedule": "0 9 * * *",
            "start_at": "2030-01-01T00:00:00",
        },
    )
    assert r.status_code == 422 and "start_at" in str(r.json()["details"])


async def test_a_schedule_starts_at_its_start(api: httpx.AsyncClient) -> None:
    made = await make(
        api,
        kind="schedule",
        agent_id="echo",
        schedule="0 9 * * *",
        start_at="2030-01-01T09:00:00+00:00",
        end_at="2030-01-03T09:00:00+00:00",
        input={},
    )
    assert made["next_fire_times"] == [
        "2030-01-01T09:00:00Z",
        "2030-01-02T09:00:00Z",
        "2030-01-03T09:00:00Z",
    ]
