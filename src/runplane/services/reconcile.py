"""The reconciler: every run that should be moving has a workflow that moves it.

A run is written by its workflow, and the workflow ends only once the run's end (or
wait) is written. Faults can break that pairing: a run recorded whose workflow never
was (a crash between the two writes), a workflow that ended without its run (an attempt
that failed for good, a process that stopped half way through a takeover, a bug), a
workflow left pending on a process that is gone. A worker's sweep looks at runs that are
queued (handed to the engine) or running and have not changed for ``reconcile_after``
seconds, asks the engine about their workflows, and repairs those that disagree:

=====================================================  ===================================
the run's workflow                                      repair
=====================================================  ===================================
missing                                                 queued again (same id: the engine
                                                        keeps one workflow per id)
ended (SUCCESS, ERROR, CANCELLED, ...)                  started again as the run's next
                                                        segment; after ``MAX_RESTARTS``
                                                        the run fails (``workflow_lost``)
pending on a process with no heartbeat row, or on this  queued again (``Engine.resume``)
one while it does not run here
pending elsewhere, or enqueued                          none: it is moving
=====================================================  ===================================

Each repair appends a ``reconciled`` event to the run's log, written only if the log
still ends where it was read (a run that moved meanwhile, or another process's sweep
that got there first, is left alone), and logs a warning naming the run and its tenant.
"""

import logging
import time
from datetime import datetime, timedelta
from typing import Literal, cast

from runplane.domain.events import ErrorData, ReconciledData, describe_event
from runplane.domain.json import JSONObject
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import NewEvent, RunRecord, utcnow
from runplane.engine.base import WorkflowState, workflow_id
from runplane.services import audit
from runplane.services.runtime import Runtime
from runplane.store import executors as executors_store
from runplane.store import notify
from runplane.store import runs as runs_store
from runplane.store.db import Conn
from runplane.store.runs import ActiveRun, Chain, StaleRun

log = logging.getLogger("runplane.reconcile")
Found = Literal["missing", "ended", "orphaned"]
Action = Literal["queued", "restarted", "failed"]
# A run whose workflow keeps ending before it does is not started a fourth time.
MAX_RESTARTS = 3
# Runs looked at per sweep; the next sweep carries on after the last one.
PAGE = 200
# Sweeps run with the heartbeat; a page is looked at this often at most (or twice per
# ``reconcile_after``, if that is shorter).
EVERY_SECONDS = 5.0


class Reconciler:
    """Finds runs whose workflow disagrees with them, a page per sweep, and repairs them."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._after: tuple[datetime, str] | None = None
        self._last = -EVERY_SECONDS

    async def sweep(self) -> int:
        """Look at the next page of quiet active runs; repair the disagreeing; say how many."""
        grace = self.rt.settings.reconcile_after
        if time.monotonic() - self._last < min(EVERY_SECONDS, grace / 2):
            return 0
        self._last = time.monotonic()
        before = utcnow() - timedelta(seconds=grace)
        async with self.rt.db.read() as conn:
            page = await runs_store.active_before(conn, before, self._after, PAGE)
            alive = await executors_store.known(conn)
        self._after = (page[-1].updated_at, page[-1].id) if len(page) == PAGE else None
        if not page:
            return 0
        flows = await self.rt.engine.workflows([(r.id, r.segment) for r in page])
        repaired = 0
        for run in page:
            found = self._disagreement(run, flows.get(run.id), alive, before)
            if found is None:
                continue
            try:
                await self._repair(run, found, flows.get(run.id))
            except StaleRun:
                continue  # the run moved meanwhile: it is not stuck, or was repaired
            repaired += 1
        return repaired

    def _disagreement(
        self, run: ActiveRun, flow: WorkflowState | None, alive: set[str], before: datetime
    ) -> Found | None:
        """How the run's workflow fails it; None when the workflow will move the run."""
        if flow is None:
            return "missing"
        if flow.ended:
            return "ended"
        if flow.status != "PENDING":
            return None  # enqueued: a worker will take it
        if flow.executor_id != self.rt.engine.executor_id:
            return None if flow.executor_id in alive else "orphaned"
        # Pending on this process, which does not run it: a start or a claim whose answer
        # was lost, which DBOS never runs (until this process restarts).
        quiet = flow.updated_at is not None and flow.updated_at < before
        here = self.rt.worker.runs_here(run.id) or self.rt.engine.running_here(run.id, run.segment)
        return "orphaned" if quiet and not here else None

    async def _repair(self, run: ActiveRun, found: Found, flow: WorkflowState | None) -> None:
        async with self.rt.db.read() as conn:
            row = await runs_store.get_run(conn, None, run.id)
            restarts = await runs_store.count_events(conn, run.id, "reconciled")
        if row is None or row["status"] != run.status or row["updated_at"] != run.updated_at:
            raise StaleRun(run.id)
        segment = int(row["segment"])
        if found != "ended":
            action: Action = "queued"
        elif restarts < MAX_RESTARTS:
            action, segment = "restarted", segment + 1
        else:
            action = "failed"
        note: ReconciledData = {
            "found": found,
            "action": action,
            "workflow": workflow_id(run.id, segment),
            "workflow_status": flow.status if flow is not None else None,
        }
        if action == "failed":
            await self._fail(row, note, restarts)
        else:
            await self._record(row, note, segment)
            if found == "orphaned":
                await self.rt.engine.resume(run.id, segment)
            else:
                await self.rt.worker.submit(run.id, segment=segment)
        log.warning(
            "run %s (%s): %s",
            run.id,
            run.status,
            describe_event("reconciled", note),
            extra={"run_id": run.id, "tenant": run.tenant_id, "reconciled": dict(note)},
        )

    async def _record(self, row: RunRecord, note: ReconciledData, segment: int) -> None:
        """Append the ``reconciled`` event (and the new segment), if the log has not moved."""
        now = utcnow()
        async with self.rt.db.write() as conn:
            await runs_store.commit_changes(
                conn,
                row["id"],
                Chain(row["last_seq"], row["last_hash"]),
                new_events=[NewEvent("reconciled", note, now)],
                fields={"segment": segment, "updated_at": now},
                expect_status=row["status"],
            )
            await _note(conn, row, note)
            await notify.announce(conn, row["id"])
        self.rt.hub.notify(row["id"], row["status"])

    async def _fail(self, row: RunRecord, note: ReconciledData, restarts: int) -> None:
        """End the run failed: its workflow ended before it once more, and it had its chances."""
        error: ErrorData = {
            "code": "workflow_lost",
            "message": f"the run's workflow ended {restarts + 1} times before the run did "
            f"(last as {note['workflow_status']}); runplane stopped starting it again",
            "step": None,
            "retryable": True,
        }
        event = NewEvent("reconciled", note, utcnow())

        async def noted(conn: Conn) -> None:
            await _note(conn, row, note)

        await self.rt.worker.end_idle(row, RunStatus.FAILED, [event], error=error, also=noted)


async def _note(conn: Conn, row: RunRecord, note: ReconciledData) -> None:
    """The reconciler's repair in the activity log: the system acted on the run."""
    system = audit.system(row["tenant_id"])
    await audit.record(conn, system, "run.reconciled", "run", row["id"], cast(JSONObject, note))
