"""Runs' liveness (working, stalled, lost) and the audited repair of a stalled or lost run.

A running run is ``lost`` when the executor holding it stopped beating, ``stalled`` when
it recorded no event for longer than its stall limit (``domain/liveness.py``). A person
with the ``repair_runs`` permission may then:

- ``resume`` it: its epoch moves on (the attempt that holds it is fenced: any write it
  still tries is refused), and its workflow is handed back to the queue as the
  reconciler does for a workflow left on a process that is gone; a live worker takes it
  over and carries on from its last recorded step;
- ``fail`` it, with the reason as its error.

Either is recorded as a ``repaired`` event in the run's log and as ``run.repaired`` in
the activity log, in the same transaction.
"""

import asyncio
import logging
from collections.abc import Sequence
from typing import Literal, cast

from runplane.domain.errors import Conflict
from runplane.domain.events import ErrorData, RepairedData
from runplane.domain.json import JSONObject
from runplane.domain.lifecycle import RunStatus
from runplane.domain.liveness import REPAIRABLE, Liveness, liveness, owner_alive, stall_limit
from runplane.domain.models import LiveRunRecord, NewEvent, Principal, RunRecord, utcnow
from runplane.domain.roles import Permission
from runplane.services import audit
from runplane.services import runs as runs_svc
from runplane.services.runtime import Runtime
from runplane.store import liveness as store
from runplane.store import notify
from runplane.store import runs as runs_store
from runplane.store.db import Conn
from runplane.store.runs import Chain, StaleRun

log = logging.getLogger("runplane.repair")
# How long a resume waits for this process's own attempt at the run to stop.
STOP_WAIT_SECONDS = 5.0


async def with_liveness(
    rt: Runtime, who: Principal, rows: Sequence[RunRecord]
) -> list[LiveRunRecord]:
    """The runs with their ``liveness`` and ``last_progress_at``, read in one query."""
    running = [r["id"] for r in rows if r["status"] == RunStatus.RUNNING]
    found: dict[str, store.Progress] = {}
    if running:
        async with rt.db.read() as conn:
            found = await store.progress_of(conn, who.tenant_id, running)
    now, s = utcnow(), rt.settings
    out: list[LiveRunRecord] = []
    for row in rows:
        p = found.get(row["id"])
        state: Liveness | None = None
        if p is not None:
            alive = owner_alive(p.owner, p.heartbeat_at, s.executor_dead_after, now)
            limit = stall_limit(s.run_stalled_after, row["timeout_seconds"])
            state = liveness(row["status"], alive, p.last_event_at, limit, now)
        extra = {"liveness": state, "last_progress_at": p.last_event_at if p else None}
        out.append(cast(LiveRunRecord, {**row, **extra}))
    return out


async def get_run(rt: Runtime, who: Principal, run_id: str) -> LiveRunRecord:
    """One run of the tenant with its liveness, or NotFound."""
    return (await with_liveness(rt, who, [await runs_svc.get_run(rt, who, run_id)]))[0]


async def repair_run(
    rt: Runtime, who: Principal, run_id: str, action: Literal["resume", "fail"], reason: str
) -> LiveRunRecord:
    """Resume a stalled or lost run on a live worker, or fail it; 409 for any other run."""
    who.require(Permission.REPAIR_RUNS)
    run = await get_run(rt, who, run_id)
    state = run["liveness"]
    if state not in REPAIRABLE:
        raise Conflict(
            f"run {run_id} is {state or run['status']}: only a stalled or lost run is repaired",
            [{"name": "liveness", "value": state}, {"name": "status", "value": run["status"]}],
        )
    note: RepairedData = {
        "action": action,
        "reason": reason,
        "liveness": str(state),
        "previous_owner": run["owner"],
        "by": who.key_id,
    }
    try:
        if action == "fail":
            await _fail(rt, who, run, note)
        else:
            await _resume(rt, who, run, note)
    except StaleRun as exc:
        raise Conflict(
            f"run {run_id} changed while it was being repaired; look at it again",
            [{"name": "run_id", "value": run_id}],
        ) from exc
    log.warning(
        "run %s (%s) repaired: %s by %s: %s",
        run_id,
        state,
        action,
        who.key_id,
        reason,
        extra={"run_id": run_id, "tenant": who.tenant_id, "repaired": dict(note)},
    )
    return await get_run(rt, who, run_id)


async def _noted(conn: Conn, who: Principal, run: RunRecord, note: RepairedData) -> None:
    """The repair in the activity log: who did what to the run, and why."""
    await audit.record(conn, who, "run.repaired", "run", run["id"], cast(JSONObject, dict(note)))


async def _fail(rt: Runtime, who: Principal, run: RunRecord, note: RepairedData) -> None:
    """End the run failed with the reason as its error; its holder's writes are refused."""
    error: ErrorData = {
        "code": "repaired",
        "message": f"failed by {who.key_id} ({note['liveness']} run): {note['reason']}",
        "step": None,
        "retryable": True,
    }

    async def fence_and_note(conn: Conn) -> None:
        await runs_store.update_run(conn, run["id"], epoch=int(run["epoch"]) + 1)
        await _noted(conn, who, run, note)

    event = NewEvent("repaired", note, utcnow())
    await rt.worker.end_idle(run, RunStatus.FAILED, [event], error=error, also=fence_and_note)
    rt.worker.stop_attempt(run["id"])


async def _resume(rt: Runtime, who: Principal, run: RunRecord, note: RepairedData) -> None:
    """Fence the run's holder, record the repair, and hand the run's workflow to the queue."""
    now = utcnow()
    async with rt.db.write() as conn:
        await runs_store.commit_changes(
            conn,
            run["id"],
            Chain(run["last_seq"], run["last_hash"]),
            new_events=[NewEvent("repaired", note, now)],
            fields={"epoch": int(run["epoch"]) + 1, "updated_at": now},
            expect_status=str(RunStatus.RUNNING),
        )
        await _noted(conn, who, run, note)
        await notify.announce(conn, run["id"])
    rt.hub.notify(run["id"], RunStatus.RUNNING)
    if rt.worker.stop_attempt(run["id"]):
        # This process's own attempt hung: it stops at once (its writes are refused now),
        # and its workflow ends; the run then carries on in a new segment.
        deadline = asyncio.get_running_loop().time() + STOP_WAIT_SECONDS
        while rt.worker.runs_here(run["id"]) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
    segment = int(run["segment"])
    flow = (await rt.engine.workflows([(run["id"], segment)])).get(run["id"])
    if flow is None:
        await rt.worker.submit(run["id"], segment=segment)
    elif flow.ended:
        async with rt.db.write() as conn:
            await runs_store.update_run(conn, run["id"], segment=segment + 1)
        await rt.worker.submit(run["id"], segment=segment + 1)
    else:
        await rt.engine.resume(run["id"], segment)
