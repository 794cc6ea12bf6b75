"""Fencing: each run has an owner and an epoch; a stale owner's writes are refused.

These drive ``RunWriter`` (every write of an attempt) against the real database; the
live failover across processes is in tests/durability/test_failover.py.
"""

import asyncio
import time
from datetime import timedelta

import pytest
from tests.store.test_status_writer import queued_run

from runplane.domain.ids import new_id
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import NewEvent, RunRecord, StepRecord, utcnow
from runplane.engine.lease import Lease
from runplane.engine.writer import RunWriter
from runplane.services.runtime import Runtime
from runplane.services.workers import Background
from runplane.store import executors as executors_store
from runplane.store import runs as store
from runplane.store.runs import Fenced, Move
from runplane.store.schema import executors


async def _read(rt: Runtime, run_id: str) -> RunRecord:
    async with rt.db.read() as conn:
        run = await store.get_run(conn, None, run_id)
    assert run is not None
    return run


def _writer(rt: Runtime, run: RunRecord, owner: str, lease: Lease | None = None) -> RunWriter:
    return RunWriter(rt.db, rt.hub, run, {}, owner=owner, lease=lease or Lease(60))


def _step(number: int) -> list[NewEvent]:
    return [NewEvent("step.started", {"number": number, "name": f"s{number}"}, utcnow())]


async def _started_by(rt: Runtime, owner: str) -> tuple[RunWriter, RunRecord]:
    """A run whose first write (queued -> running) was made by ``owner``'s attempt."""
    run = await queued_run(rt)
    writer = _writer(rt, run, owner)
    writer.starting = True
    await writer.commit(_step(1), [StepRecord(1, "s1", "running")], {})
    return writer, await _read(rt, run["id"])


async def test_the_first_write_of_an_attempt_claims_the_run(rt: Runtime) -> None:
    _, run = await _started_by(rt, "worker-a")
    assert (run["status"], run["owner"], run["epoch"]) == ("running", "worker-a", 1)


async def test_a_takeover_refuses_every_later_write_of_the_previous_attempt(
    rt: Runtime,
) -> None:
    old, run = await _started_by(rt, "worker-a")
    stopped: list[str] = []
    old._on_fenced = lambda: stopped.append("stop")
    new = _writer(rt, run, "worker-b")
    assert new.held_elsewhere
    await new.take_over()
    taken = await _read(rt, run["id"])
    assert (taken["owner"], taken["epoch"]) == ("worker-b", 2)

    for _ in range(2):  # refused by the database, then by the writer itself
        with pytest.raises(Fenced) as refused:
            await old.commit(_step(2), [StepRecord(2, "s2", "running")], {"plan": {"x": 1}})
        assert (refused.value.epoch, refused.value.now, refused.value.owner) == (1, 2, "worker-b")
    assert stopped == ["stop"], "the worker is told once to stop the attempt"
    after = await _read(rt, run["id"])
    assert (after["last_seq"], after["plan"]) == (taken["last_seq"], None), "nothing written"
    async with rt.db.read() as conn:
        assert [s["number"] for s in await store.list_steps(conn, run["id"])] == [1]

    await new.commit(_step(2), [StepRecord(2, "s2", "running")], {}, then=Move(RunStatus.SUCCEEDED))
    async with rt.db.read() as conn:
        events = await store.list_events(conn, run["id"])
    takeover = [e["data"] for e in events if e["type"] == "takeover"]
    assert takeover == [{"executor": "worker-b", "previous": "worker-a", "epoch": 2}]
    assert (await _read(rt, run["id"]))["status"] == "succeeded"


async def test_a_stale_attempt_cannot_end_the_run_either(rt: Runtime) -> None:
    old, run = await _started_by(rt, "worker-a")
    await _writer(rt, run, "worker-b").take_over()
    with pytest.raises(Fenced):
        await old.commit([], [], {"finished_at": utcnow()}, then=Move(RunStatus.FAILED))
    assert (await _read(rt, run["id"]))["status"] == "running"


async def test_declaring_an_executor_dead_fences_its_running_runs_at_once(rt: Runtime) -> None:
    old, run = await _started_by(rt, "worker-dead")
    _, other = await _started_by(rt, "worker-alive")
    async with rt.db.write() as conn:
        fenced = await store.fence_owner(conn, "worker-dead")
    assert fenced == [run["id"]]
    assert (await _read(rt, other["id"]))["epoch"] == 1, "other owners' runs are left alone"
    with pytest.raises(Fenced):
        await old.commit(_step(2), [], {})
    # The new owner claims from the moved-on epoch.
    new = _writer(rt, await _read(rt, run["id"]), "worker-b")
    await new.take_over()
    assert (await _read(rt, run["id"]))["epoch"] == 3


async def test_two_new_attempts_at_once_one_claims_the_other_is_fenced(rt: Runtime) -> None:
    _, run = await _started_by(rt, "worker-a")
    first, second = _writer(rt, run, "worker-b"), _writer(rt, run, "worker-c")
    await first.take_over()
    with pytest.raises(Fenced):
        await second.take_over()
    assert (await _read(rt, run["id"]))["owner"] == "worker-b"


async def test_a_waiting_run_has_no_owner_and_its_next_attempt_is_no_takeover(
    rt: Runtime,
) -> None:
    writer, run = await _started_by(rt, "worker-a")
    await writer.commit([], [], {"waiting_on": {"approval": "plan"}}, then=Move(RunStatus.PAUSED))
    paused = await _read(rt, run["id"])
    assert (paused["owner"], paused["epoch"]) == (None, 1)
    async with rt.db.write() as conn:
        await store.move_run(
            conn,
            run["id"],
            store.Chain(paused["last_seq"], paused["last_hash"]),
            "paused",
            after=Move(RunStatus.RUNNING),
        )
    resumed = _writer(rt, await _read(rt, run["id"]), "worker-b")
    assert not resumed.held_elsewhere
    await resumed.commit(_step(2), [], {})
    assert (await _read(rt, run["id"]))["owner"] == "worker-b"


async def test_a_lapsed_lease_holds_a_run_until_a_beat_gets_through(rt: Runtime) -> None:
    _, run = await _started_by(rt, "worker-a")
    lease = Lease(0.2)
    writer = _writer(rt, await _read(rt, run["id"]), "worker-a", lease)
    await writer.commit([], [], {})  # claims: epoch 2
    await asyncio.sleep(0.3)
    assert not lease.valid
    held = asyncio.create_task(writer.hold())
    await asyncio.sleep(0.2)
    assert not held.done(), "no new step starts while no beat gets through"
    lease.renew(time.monotonic())
    await asyncio.wait_for(held, 5)  # still ours: it carries on


async def test_a_held_run_taken_over_meanwhile_is_fenced_when_beats_come_back(
    rt: Runtime,
) -> None:
    _, run = await _started_by(rt, "worker-a")
    lease = Lease(0.2)
    writer = _writer(rt, await _read(rt, run["id"]), "worker-a", lease)
    await writer.commit([], [], {})
    await asyncio.sleep(0.3)
    held = asyncio.create_task(writer.hold())
    await asyncio.sleep(0.05)
    async with rt.db.write() as conn:
        await store.fence_owner(conn, "worker-a")
    lease.renew(time.monotonic())
    with pytest.raises(Fenced):
        await asyncio.wait_for(held, 5)


@pytest.mark.database_independent
def test_a_lease_is_steady_only_after_beats_get_through_without_a_gap() -> None:
    lease = Lease(0.5)
    start = lease._steady_since
    lease.renew(start + 0.3)
    assert lease._steady_since == start
    lease.renew(start + 1.0)  # a gap longer than the ttl: the outage ends here
    assert lease._steady_since == start + 1.0


async def test_an_executor_is_silent_once_its_last_beat_is_older_than_the_limit(
    rt: Runtime,
) -> None:
    name = f"exec-{new_id('x')[-8:]}"
    async with rt.db.write() as conn:
        await executors_store.heartbeat(conn, name, "all", utcnow(), 8)
    async with rt.db.read() as conn:
        fresh = await executors_store.silent_executors(conn, utcnow(), 30, "me")
    assert name not in [s.id for s in fresh]
    await asyncio.sleep(0.3)
    async with rt.db.read() as conn:
        silent = await executors_store.silent_executors(conn, utcnow(), 0.2, "me")
    assert name in [s.id for s in silent]
    async with rt.db.write() as conn:
        assert await executors_store.claim_dead(conn, name, utcnow(), 0.2)
    async with rt.db.write() as conn:
        assert not await executors_store.claim_dead(conn, name, utcnow(), 0.2), "one winner"


async def _executors(rt: Runtime) -> set[str]:
    async with rt.db.read() as conn:
        return {s.id for s in await executors_store.silent_executors(conn, utcnow(), 0, "me")}


async def test_a_sweeper_whose_own_beats_failed_declares_no_one_dead_yet(rt: Runtime) -> None:
    """After a database outage every heartbeat is old: the sweeper waits until its own
    beats have got through for the whole dead-after time, as every live process's can."""
    ghost = f"ghost-{new_id('x')[-8:]}"
    long_ago = utcnow() - timedelta(seconds=60)
    async with rt.db.write() as conn:
        await executors_store.heartbeat(conn, ghost, "all", long_ago, 8)
    if not rt.db.is_sqlite:  # the database's clock wrote it: make it old
        async with rt.db.write() as conn:
            await conn.execute(
                executors.update().where(executors.c.id == ghost).values(heartbeat_at=long_ago)
            )
    lease = rt.worker.lease
    now = time.monotonic()
    lease._renewed, lease._steady_since = now, now  # beats just came back after a gap
    await Background(rt).take_over_dead()
    assert ghost in await _executors(rt), "declared dead right after an outage"

    lease._steady_since = now - 2 * rt.settings.executor_dead_after  # beats steady since
    await Background(rt).take_over_dead()
    assert ghost not in await _executors(rt)


async def test_an_attempt_made_again_after_a_database_failure_is_refused_if_taken_over(
    rt: Runtime,
) -> None:
    """A worker cut off mid-attempt tries again once it reaches the database: with the
    epoch its failed attempt held, so a run taken over meanwhile is not taken back."""
    failed, run = await _started_by(rt, "worker-a")
    await _writer(rt, run, "worker-b").take_over()
    again = RunWriter(
        rt.db,
        rt.hub,
        await _read(rt, run["id"]),
        {},
        owner="worker-a",
        lease=Lease(60),
        epoch=failed.epoch,
    )
    assert again.held_elsewhere
    with pytest.raises(Fenced):
        await again.take_over()
    assert (await _read(rt, run["id"]))["owner"] == "worker-b"

    # Not taken over: the attempt carries on, and claims the run anew.
    mine, run = await _started_by(rt, "worker-a")
    again = RunWriter(
        rt.db,
        rt.hub,
        await _read(rt, run["id"]),
        {},
        owner="worker-a",
        lease=Lease(60),
        epoch=mine.epoch,
    )
    await again.take_over()
    assert (await _read(rt, run["id"]))["epoch"] == mine.epoch + 1
