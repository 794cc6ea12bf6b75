"""Stream parts across processes: from the worker that runs a graph to listeners on other nodes.

A graph's parts reach listeners in the executing process through memory
(``graphs/streams.py``), and nothing else is paid for them. A listener anywhere else (an
API node answering ``/runs/stream`` while a worker runs the graph, or a join on another
node) gets them through the database: the worker appends them to ``stream_parts``, in
batches (one write in flight per run; parts that come meanwhile go in the next), and
NOTIFYs; the listener reads the rows after the last it saw, woken by the NOTIFY
(Postgres) or by polling (SQLite).

A worker relays a run's parts only while someone elsewhere listens: the run was created
by a stream request answered by another process (``listener`` in its options, so from
its first part), or a listener joined it later (a join row, announced on NOTIFY and
looked for every second). Parts are written before the run's end is committed, so a
listener that sees the run ended and reads once more has every part.
"""

import asyncio
import contextvars
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from runplane.domain.models import utcnow
from runplane.engine.hub import EventHub
from runplane.graphs.streams import Part, RunStream
from runplane.store import notify
from runplane.store import stream_parts as parts_store
from runplane.store.db import Database

log = logging.getLogger("runplane.graphs")
# Rows read at once by a listener; a longer backlog is read in several.
READ_BATCH = 500
# How long a listener executing the run itself waits between checks that it has ended
# (its parts come through memory, and the end closes its stream at once).
LOCAL_POLL = 1.0
# A batch that could not be written (no free connection in time, a lost connection) is
# tried again after these pauses, then given up (None).
RETRIES = (0.1, 0.5, None)


class Relay:
    """Writes one run's parts to the part log, for listeners in other processes."""

    def __init__(self, db: Database, run_id: str) -> None:
        self.db = db
        self.run_id = run_id
        self.number = 0
        self._pending: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None

    def put(self, event: str, data: Any) -> None:
        """Queue a part; it is written with the next batch."""
        self.number += 1
        self._pending.append(
            {"run_id": self.run_id, "number": self.number, "event": event, "data": data}
        )
        if self._task is None or self._task.done():
            # A context of its own: the run's (the durable engine's) is none of its business.
            self._task = asyncio.get_running_loop().create_task(
                self._drain(), context=contextvars.Context()
            )

    async def _drain(self) -> None:
        while self._pending:
            rows, self._pending = self._pending, []
            at = utcnow()
            for row in rows:
                row["at"] = at
            for pause in RETRIES:
                try:
                    async with self.db.write() as conn:
                        await parts_store.append(conn, rows)
                        await notify.announce(conn, self.run_id, notify.PARTS)
                    break
                except Exception as exc:  # nothing was written: the same rows go again
                    if pause is None:  # the run goes on; its listeners miss these parts
                        log.warning("relaying %d stream parts failed: %s", len(rows), exc)
                    else:
                        await asyncio.sleep(pause)

    async def close(self) -> None:
        """Wait until every part queued is written (before the run's end is)."""
        if self._task is not None:
            await asyncio.shield(self._task)


async def follow(
    db: Database,
    run_id: str,
    local: RunStream,
    since: int,
    *,
    parts: EventHub,
    runs: EventHub,
    here: Callable[[], bool],
    ended: Callable[[], Awaitable[bool]],
    poll: float,
) -> AsyncGenerator[Part, None]:
    """A run's parts until it ends, from this process's executor or relayed from another's.

    While the run executes here, parts come from ``local`` alone and the database is not
    read. Otherwise relayed parts after ``since`` are read when a NOTIFY says there are
    some (or every ``poll`` seconds), and the run's end when it says the run changed.
    """
    seen = 0
    last = since
    read = check_end = True
    relayed = False
    try:
        while True:
            changed = local.changed
            while seen < len(local.parts):
                seen += 1
                yield local.parts[seen - 1]
            if local.closed:
                return
            if here():
                if not await _any((changed,), LOCAL_POLL) and await ended():
                    while seen < len(local.parts):  # parts written before the run ended
                        seen += 1
                        yield local.parts[seen - 1]
                    return
                read = check_end = True  # it may have stopped executing here
                continue
            relayed = True
            # Taken before reading, so that no wake-up in between is missed.
            part_wake = parts.signal(run_id)
            run_wake = runs.signal(run_id)
            # The end is checked before the parts are read: the worker writes every part
            # before the end, so once the end is seen, one more read has them all.
            over = check_end and await ended()
            while read or over:
                async with db.read() as conn:
                    rows = await parts_store.after(conn, run_id, last, READ_BATCH)
                for row in rows:
                    last = row.id
                    if row.event != parts_store.JOIN:
                        yield (row.number, row.event, row.data)
                if len(rows) < READ_BATCH:
                    break
            if over:
                # It may have run here after all (queued, then taken by this process).
                while seen < len(local.parts):
                    seen += 1
                    yield local.parts[seen - 1]
                return
            fired = await _any((changed, part_wake, run_wake), poll)
            read = not fired or part_wake.is_set()
            check_end = not fired or run_wake.is_set()
    finally:
        if relayed:
            # Its wake-up would stay behind for good (it serves this follower only, and
            # any other of the same run here, which reads once more).
            parts.notify(run_id)


async def _any(events: tuple[asyncio.Event, ...], timeout: float) -> bool:
    """Wait until one of ``events`` is set, at most ``timeout`` s; tell whether one was."""
    if any(e.is_set() for e in events):
        return True
    if len(events) == 1:
        try:
            await asyncio.wait_for(events[0].wait(), timeout)
        except TimeoutError:
            return False
        return True
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        done, _ = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
    return bool(done)
