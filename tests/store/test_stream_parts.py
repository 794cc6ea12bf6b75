"""Relayed stream parts: the worker's writes, a listener's reads, joins, pruning, deletion."""

import asyncio
from datetime import timedelta

from runplane.domain.ids import new_id
from runplane.domain.models import utcnow
from runplane.engine.hub import EventHub
from runplane.graphs.relay import Relay, follow
from runplane.graphs.streams import RunStream
from runplane.services.runtime import Runtime
from runplane.store import runs as runs_store
from runplane.store import stream_parts


async def test_a_listener_elsewhere_gets_every_part_written_before_the_end_in_order(
    rt: Runtime,
) -> None:
    run_id = new_id("run")
    relay = Relay(rt.db, run_id)
    over = asyncio.Event()

    async def ended() -> bool:
        return over.is_set()

    got: list[tuple[int, str, object]] = []

    async def listen() -> None:
        parts = follow(
            rt.db,
            run_id,
            RunStream(),
            0,
            parts=EventHub(),
            runs=EventHub(),
            here=lambda: False,
            ended=ended,
            poll=0.05,
        )
        async for part in parts:
            got.append(part)

    listener = asyncio.create_task(listen())
    for i in range(1200):  # more than one read's worth, in many batches
        relay.put("updates", {"i": i})
        if i % 100 == 0:
            await asyncio.sleep(0)
    await relay.close()  # the worker flushes before it commits the run's end
    over.set()
    await asyncio.wait_for(listener, 30)
    assert [p[2] for p in got] == [{"i": i} for i in range(1200)]
    assert [p[0] for p in got] == list(range(1, 1201))
    assert {p[1] for p in got} == {"updates"}


async def test_a_join_row_marks_where_a_listener_starts_and_is_found_by_the_worker(
    rt: Runtime,
) -> None:
    run_id, other = new_id("run"), new_id("run")
    now = utcnow()
    async with rt.db.write() as conn:
        await stream_parts.append(
            conn, [{"run_id": run_id, "number": 1, "event": "values", "data": {}, "at": now}]
        )
        since = await stream_parts.mark_join(conn, run_id, now)
        await stream_parts.append(
            conn, [{"run_id": run_id, "number": 2, "event": "values", "data": {"b": 1}, "at": now}]
        )
    async with rt.db.read() as conn:
        later = await stream_parts.after(conn, run_id, since)
        joined = await stream_parts.joined(conn, [run_id, other])
    assert [(p.number, p.data) for p in later] == [(2, {"b": 1})]
    assert joined == [run_id]


async def test_old_parts_are_pruned_and_a_deleted_run_takes_its_parts_along(rt: Runtime) -> None:
    old, fresh, deleted = new_id("run"), new_id("run"), new_id("run")
    now = utcnow()
    rows = [
        {
            "run_id": old,
            "number": 1,
            "event": "values",
            "data": None,
            "at": now - timedelta(hours=1),
        },
        {"run_id": fresh, "number": 1, "event": "values", "data": None, "at": now},
        {"run_id": deleted, "number": 1, "event": "values", "data": None, "at": now},
    ]
    async with rt.db.write() as conn:
        await stream_parts.append(conn, rows)
        await stream_parts.prune(conn, now - timedelta(minutes=10))
        await runs_store.delete_run(conn, deleted)
    async with rt.db.read() as conn:
        left = {r: await stream_parts.after(conn, r, 0) for r in (old, fresh, deleted)}
    assert [len(left[r]) for r in (old, fresh, deleted)] == [0, 1, 0]
