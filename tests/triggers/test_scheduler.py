"""The scheduler: a due tick starts one run, however many dispatchers race for it; missed
ticks are started once or skipped; the run records its trigger."""

import asyncio
from datetime import datetime, timedelta

import httpx

from runplane.domain.models import utcnow
from runplane.services import triggers as triggers_svc
from runplane.services.runtime import Runtime
from runplane.store import triggers as store
from runplane.store.schema import triggers as table


async def make(api: httpx.AsyncClient, **body: object) -> dict:
    r = await api.post("/v1/triggers", json={"kind": "schedule", "agent_id": "echo", **body})
    assert r.status_code == 201, r.text
    return r.json()


async def runs_of(api: httpx.AsyncClient, trigger_id: str) -> list[dict]:
    r = await api.get("/v1/runs", params={"trigger_id": trigger_id, "limit": 100})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def move_due(rt: Runtime, trigger_id: str, due: datetime) -> None:
    """Put a schedule's next tick at ``due`` (as if the processes had been down since)."""
    async with rt.db.write() as conn:
        await conn.execute(table.update().where(table.c.id == trigger_id).values(next_fire_at=due))


async def wait_moved_past(api: httpx.AsyncClient, trigger_id: str, due: datetime) -> dict:
    for _ in range(200):
        got = (await api.get(f"/v1/triggers/{trigger_id}")).json()
        nxt = got["next_fire_at"]
        if nxt and datetime.fromisoformat(nxt.replace("Z", "+00:00")) > due:
            return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"trigger {trigger_id} never moved past {due}")


async def test_a_seconds_schedule_fires_and_its_run_records_the_trigger(
    api: httpx.AsyncClient,
) -> None:
    made = await make(api, schedule="* * * * * *", input={"message": "tick"}, name="every second")
    try:
        for _ in range(100):
            found = await runs_of(api, made["id"])
            if found:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the schedule never fired")
    finally:
        await api.post(f"/v1/triggers/{made['id']}/disable")
    run = found[-1]
    assert run["trigger"] == "schedule" and run["trigger_id"] == made["id"]
    assert run["input"] == {"message": "tick"} and run["name"] == "every second"
    listed = (await api.get("/v1/runs", params={"trigger": "schedule"})).json()["items"]
    assert run["id"] in {r["id"] for r in listed}
    got = (await api.get(f"/v1/triggers/{made['id']}")).json()
    assert got["last_run_id"] in {r["id"] for r in found}


async def test_dispatchers_racing_for_one_tick_start_one_run(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    made = await make(api, schedule="0 0 1 1 *", input={"message": "once"})
    due = utcnow() - timedelta(seconds=1)
    await move_due(rt, made["id"], due)
    async with rt.db.read() as conn:
        (row,) = [r for r in await store.due(conn, utcnow(), 1000) if r["id"] == made["id"]]
    # Eight dispatchers that all saw the tick due (and the process's own scheduler too).
    now = utcnow()
    await asyncio.gather(*(triggers_svc.fire(rt, dict(row), now) for _ in range(8)))  # type: ignore[arg-type]
    await asyncio.gather(*(triggers_svc.start_due(rt) for _ in range(4)))
    moved = await wait_moved_past(api, made["id"], due)
    found = await runs_of(api, made["id"])
    assert len(found) == 1, found
    assert moved["last_run_id"] == found[0]["id"]
    assert datetime.fromisoformat(moved["next_fire_at"].replace("Z", "+00:00")).month == 1


async def test_missed_ticks_start_one_run_with_catch_up_once(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    made = await make(api, schedule="0 * * * *", catch_up="once", input={"message": "late"})
    due = utcnow() - timedelta(hours=5, minutes=1)  # five hourly ticks missed
    await move_due(rt, made["id"], due)
    await triggers_svc.start_due(rt)
    await triggers_svc.start_due(rt)
    moved = await wait_moved_past(api, made["id"], utcnow())
    found = await runs_of(api, made["id"])
    assert len(found) == 1 and found[0]["trigger_id"] == made["id"]
    assert moved["last_run_id"] == found[0]["id"]


async def test_missed_ticks_are_skipped_with_catch_up_skip(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    made = await make(api, schedule="0 * * * *", catch_up="skip", input={"message": "late"})
    await move_due(rt, made["id"], utcnow() - timedelta(hours=5, minutes=1))
    await triggers_svc.start_due(rt)
    await wait_moved_past(api, made["id"], utcnow())
    assert await runs_of(api, made["id"]) == []


async def test_a_schedule_past_its_end_stops(api: httpx.AsyncClient, rt: Runtime) -> None:
    end = utcnow() + timedelta(hours=2)
    made = await make(api, schedule="0 * * * *", input={}, end_at=end.isoformat())
    # Its last tick falls due: it fires, and has no next one.
    async with rt.db.write() as conn:
        await conn.execute(
            table.update()
            .where(table.c.id == made["id"])
            .values(next_fire_at=utcnow() - timedelta(seconds=1), end_at=utcnow())
        )
    await triggers_svc.start_due(rt)
    for _ in range(100):
        got = (await api.get(f"/v1/triggers/{made['id']}")).json()
        if got["next_fire_at"] is None:
            break
        await asyncio.sleep(0.05)
    assert got["next_fire_at"] is None and got["next_fire_times"] == []
    assert len(await runs_of(api, made["id"])) == 1


async def test_a_paused_schedule_starts_nothing(api: httpx.AsyncClient, rt: Runtime) -> None:
    made = await make(api, schedule="0 * * * *", input={})
    await api.post(f"/v1/triggers/{made['id']}/pause")
    async with rt.db.write() as conn:
        await conn.execute(
            table.update()
            .where(table.c.id == made["id"])
            .values(next_fire_at=utcnow() - timedelta(seconds=1))
        )
    await triggers_svc.start_due(rt)
    assert await runs_of(api, made["id"]) == []
    got = (await api.get(f"/v1/triggers/{made['id']}")).json()
    assert got["paused"] is True and got["last_run_id"] is None
