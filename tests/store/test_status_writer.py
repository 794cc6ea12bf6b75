"""``store.runs.move_run`` is the one writer of a run's status."""

from typing import Any

import pytest

from runplane.domain.errors import Conflict
from runplane.domain.ids import new_id
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import NewEvent, RunRecord, utcnow
from runplane.services.runtime import Runtime
from runplane.store import runs as store
from runplane.store.runs import Chain, Move, StaleRun


async def queued_run(rt: Runtime) -> RunRecord:
    """A queued run row of a new tenant, written straight to the store."""
    now = utcnow()
    row: dict[str, Any] = {
        "id": new_id("run"),
        "tenant_id": f"t-{new_id('x')[-8:]}",
        "agent_id": "agt_none",
        "agent_name": "none",
        "revision_id": "rev_none",
        "status": RunStatus.QUEUED,
        "trigger": "api",
        "variables": {},
        "context": {},
        "metadata": {},
        "timeout_seconds": 60.0,
        "created_at": now,
        "updated_at": now,
    }
    async with rt.db.write() as conn:
        return await store.insert_run(conn, row)


async def _status_events(rt: Runtime, run_id: str) -> list[Any]:
    async with rt.db.read() as conn:
        return [
            (e["seq"], e["data"]["status"])
            for e in await store.list_events(conn, run_id)
            if e["type"] == "status"
        ]


async def _read(rt: Runtime, run_id: str) -> RunRecord:
    async with rt.db.read() as conn:
        run = await store.get_run(conn, None, run_id)
    assert run is not None
    return run


def _chain(run: RunRecord) -> Chain:
    return Chain(run["last_seq"], run["last_hash"])


async def test_a_new_run_is_queued_with_its_first_status_event(rt: Runtime) -> None:
    run = await queued_run(rt)
    assert run["status"] == "queued" and run["last_seq"] == 1
    assert await _status_events(rt, run["id"]) == [(1, "queued")]


async def test_a_run_that_starts_and_ends_in_one_write_records_both_moves_around_its_events(
    rt: Runtime,
) -> None:
    run = await queued_run(rt)
    step = NewEvent("step.started", {"number": 1, "name": "a"}, utcnow())
    async with rt.db.write() as conn:
        await store.move_run(
            conn,
            run["id"],
            _chain(run),
            run["status"],
            before=Move(RunStatus.RUNNING),
            after=Move(RunStatus.SUCCEEDED),
            new_events=[step],
            fields={"finished_at": utcnow()},
        )
    async with rt.db.read() as conn:
        types = [
            (e["type"], e["data"].get("status")) for e in await store.list_events(conn, run["id"])
        ]
    assert types == [
        ("status", "queued"),
        ("status", "running"),
        ("step.started", None),
        ("status", "succeeded"),
    ]
    assert (await _read(rt, run["id"]))["status"] == "succeeded"


async def test_an_illegal_move_is_refused_and_nothing_is_written(rt: Runtime) -> None:
    run = await queued_run(rt)
    with pytest.raises(Conflict):
        async with rt.db.write() as conn:
            await store.move_run(
                conn, run["id"], _chain(run), run["status"], after=Move(RunStatus.PAUSED)
            )
    after = await _read(rt, run["id"])
    assert (after["status"], after["last_seq"]) == ("queued", 1)


async def test_a_move_from_a_status_the_run_has_left_is_stale(rt: Runtime) -> None:
    run = await queued_run(rt)
    async with rt.db.write() as conn:
        await store.move_run(conn, run["id"], _chain(run), "queued", after=Move(RunStatus.CANCELED))
    with pytest.raises(StaleRun):
        async with rt.db.write() as conn:
            await store.move_run(
                conn, run["id"], _chain(run), "queued", after=Move(RunStatus.RUNNING)
            )
    assert await _status_events(rt, run["id"]) == [(1, "queued"), (2, "canceled")]


async def test_no_other_writer_may_set_a_status(rt: Runtime) -> None:
    run = await queued_run(rt)
    with pytest.raises(ValueError, match="move_run"):
        async with rt.db.write() as conn:
            await store.commit_changes(conn, run["id"], _chain(run), fields={"status": "running"})
    with pytest.raises(ValueError, match="move_run"):
        async with rt.db.write() as conn:
            await store.update_run(conn, run["id"], status="running")
    with pytest.raises(ValueError, match="queued"):
        async with rt.db.write() as conn:
            await store.insert_run(conn, {**run, "id": new_id("run"), "status": "running"})
    assert (await _read(rt, run["id"]))["status"] == "queued"
