"""A process's background duties: heartbeat, takeover of dead executors, remote cancel,
and restarting runs whose workflow was never recorded."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from runplane.domain.models import utcnow
from runplane.services import approvals as approvals_svc
from runplane.services.runtime import Runtime
from runplane.store import executors as executors_store
from runplane.store import runs as runs_store

log = logging.getLogger("runplane.workers")
ORPHAN_AFTER = timedelta(seconds=30)


class Background:
    """The loops that keep a process's runs honest; started and stopped with the app."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the loops (workers also sweep and poll for remote cancels)."""
        s = self.rt.settings
        self._tasks.append(asyncio.create_task(self._every(s.heartbeat_seconds, self.heartbeat)))
        if s.worker:
            self._tasks.append(asyncio.create_task(self._every(s.heartbeat_seconds, self.sweep)))
            self._tasks.append(
                asyncio.create_task(self._every(s.cancel_poll_seconds, self.poll_cancels))
            )
            if self.rt.project.graphs:
                self._tasks.append(asyncio.create_task(self._every(1.0, self.start_crons)))

    async def stop(self) -> None:
        """Stop the loops."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _every(self, seconds: float, fn: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await fn()
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed round is logged and tried again next time
                name = getattr(fn, "__name__", repr(fn))
                log.exception(
                    "background task %s failed; trying again in %g s",
                    name,
                    seconds,
                    extra={"task": name},
                )
            await asyncio.sleep(seconds)

    async def start_crons(self) -> None:
        """Start the runs of due crons."""
        from runplane.services import crons  # crons sit above the process loops

        await crons.start_due(self.rt)

    async def heartbeat(self) -> None:
        """Say this process is alive."""
        async with self.rt.db.write() as conn:
            await executors_store.heartbeat(
                conn, self.rt.engine.executor_id, self.rt.settings.worker, utcnow()
            )

    async def sweep(self) -> None:
        """Resume the runs of executors that stopped beating; restart orphaned queued runs."""
        now = utcnow()
        cutoff = now - timedelta(seconds=self.rt.settings.executor_dead_after)
        async with self.rt.db.read() as conn:
            dead = await executors_store.dead_executors(conn, cutoff, self.rt.engine.executor_id)
        for executor_id in dead:
            async with self.rt.db.write() as conn:
                won = await executors_store.claim_dead(conn, executor_id, cutoff)
            if won:
                count = await self.rt.engine.take_over(executor_id)
                log.warning(
                    "took over %d runs of dead executor %s",
                    count,
                    executor_id,
                    extra={"dead_executor": executor_id, "runs": count},
                )
        await self._restart_orphans()
        await approvals_svc.apply_expired(self.rt)

    async def _restart_orphans(self) -> None:
        # A crash between recording a run (or its resumption) and recording its workflow
        # leaves a run that no engine knows; it is queued again here.
        before = utcnow() - ORPHAN_AFTER
        async with self.rt.db.read() as conn:
            ids = [(r, 0) for r in await runs_store.queued_before(conn, before)]
            ids += await runs_store.resumed_before(conn, before)
        for run_id, segment in ids:
            if await self.rt.engine.resubmit_if_lost(run_id, segment):
                await self._log_requeued(run_id)

    async def _log_requeued(self, run_id: str) -> None:
        # Rare (a crash at the wrong moment): one read for the tenant costs nothing.
        async with self.rt.db.read() as conn:
            run = await runs_store.get_run(conn, None, run_id)
        tenant = run["tenant_id"] if run is not None else None
        log.warning(
            "run %s had no workflow; queued it again",
            run_id,
            extra={"run_id": run_id, "tenant": tenant},
        )

    async def poll_cancels(self) -> None:
        """Cancel local runs whose cancel was requested through another process."""
        await self.rt.worker.apply_remote_cancels()
