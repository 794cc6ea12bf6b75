"""A process's background duties: heartbeat, takeover of dead executors, remote cancel,
admitting held and scheduled runs, and repairing runs whose workflow disagrees with them."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from runplane.domain.models import utcnow
from runplane.services import approvals as approvals_svc
from runplane.services import evidence as evidence_svc
from runplane.services import retention
from runplane.services import suites as suites_svc
from runplane.services.benchmark_scores import CompletionSampler
from runplane.services.reconcile import Reconciler
from runplane.services.runtime import Runtime
from runplane.store import executors as executors_store
from runplane.store import runs as runs_store
from runplane.store.retry import describe, is_transient

log = logging.getLogger("runplane.workers")
# How often a worker admits held runs that fit again and scheduled runs that are due.
RELEASE_SECONDS = 1.0
# How often a worker looks for finished runs that benchmarks sample (on_completion).
COMPLETION_SECONDS = 1.0
# The longest the scheduler sleeps between rounds (it wakes sooner for a tick due sooner).
MAX_SCHEDULE_SLEEP = 1.0


class Background:
    """The loops that keep a process's runs honest; started and stopped with the app."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.reconciler = Reconciler(rt)
        self._tasks: list[asyncio.Task[None]] = []
        self._schedule_sleep = MAX_SCHEDULE_SLEEP
        self.completions = CompletionSampler(rt)

    def start(self) -> None:
        """Start the loops (workers also sweep and poll for remote cancels)."""
        s = self.rt.settings
        self._tasks.append(asyncio.create_task(self._every(s.heartbeat_seconds, self.heartbeat)))
        # An export's builder counts as gone only after executor_dead_after seconds of
        # silence, so looking more often than twice in that time finds nothing sooner.
        self._tasks.append(
            asyncio.create_task(self._every(s.executor_dead_after / 2, self.resume_exports))
        )
        # A suite's driver counts as gone only once its process does (as an export's).
        self._tasks.append(
            asyncio.create_task(self._every(s.executor_dead_after / 2, self.resume_suites))
        )
        if s.executes:
            self._tasks.append(
                asyncio.create_task(self._every(COMPLETION_SECONDS, self.score_completions))
            )
            self._tasks.append(asyncio.create_task(self._every(s.heartbeat_seconds, self.sweep)))
            self._tasks.append(
                asyncio.create_task(self._every(s.cancel_poll_seconds, self.poll_cancels))
            )
            self._tasks.append(asyncio.create_task(self._every(RELEASE_SECONDS, self.release)))
            self._tasks.append(asyncio.create_task(self.schedule()))
            self._tasks.append(
                asyncio.create_task(self._every(s.webhook_poll_seconds, self.deliver_webhooks))
            )
            self._tasks.append(
                asyncio.create_task(self._every(s.retention_sweep_seconds, self.apply_retention))
            )

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
            await self._once(fn, seconds)
            await asyncio.sleep(seconds)

    async def _once(self, fn: Callable[[], Awaitable[None]], seconds: float) -> None:
        """One round of a loop; a failed round is logged and tried again next time."""
        try:
            await fn()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            name = getattr(fn, "__name__", repr(fn))
            if is_transient(exc):  # the database is out: one line, not a traceback
                log.warning(
                    "background task %s failed (%s); trying again in %g s",
                    name,
                    describe(exc),
                    seconds,
                    extra={"task": name},
                )
                await asyncio.sleep(seconds)
                return
            log.exception(
                "background task %s failed; trying again in %g s",
                name,
                seconds,
                extra={"task": name},
            )

    async def schedule(self) -> None:
        """Start the due ticks of schedule triggers and crons, sleeping until the next one."""
        from runplane.services.scheduler import Scheduler  # schedules sit above the loops

        scheduler = Scheduler(self.rt)

        async def dispatch() -> None:
            self._schedule_sleep = await scheduler.dispatch()

        while True:
            self._schedule_sleep = MAX_SCHEDULE_SLEEP
            await self._once(dispatch, MAX_SCHEDULE_SLEEP)
            await asyncio.sleep(self._schedule_sleep)

    async def heartbeat(self) -> None:
        """Say this process is alive; a beat that gets through renews its lease on its runs."""
        began = time.monotonic()
        async with self.rt.db.write() as conn:
            await executors_store.heartbeat(
                conn,
                self.rt.engine.executor_id,
                self.rt.settings.role,
                utcnow(),
                self.rt.settings.db_connections,
            )
        self.rt.worker.lease.renew(began)

    async def sweep(self) -> None:
        """Take over the runs of executors that stopped beating; repair runs their workflow lost."""
        await self.take_over_dead()
        await self.reconciler.sweep()
        await approvals_svc.apply_expired(self.rt)
        # A child's end resumes its waiting parent; one lost in a crash is made up here.
        await self.rt.worker.wake_waiting_parents()

    async def take_over_dead(self) -> None:
        """Declare dead the executors silent for ``executor_dead_after``; hand on their runs.

        Only a process whose own beats have got through without a gap for that long
        declares anyone dead: after a database outage (or this process's own), the others
        get as long to beat again. Declaring one dead fences its runs (their epoch moves
        on, in the same transaction as the claim), then DBOS re-enqueues its workflows.
        """
        silence = self.rt.settings.executor_dead_after
        if self.rt.worker.lease.steady_for() < silence:
            return
        me = self.rt.engine.executor_id
        async with self.rt.db.read() as conn:
            silent = await executors_store.silent_executors(conn, utcnow(), silence, me)
        for dead in silent:
            detected, detected_at = time.monotonic(), utcnow()
            async with self.rt.db.write() as conn:
                won = await executors_store.claim_dead(conn, dead.id, utcnow(), silence)
                fenced = await runs_store.fence_owner(conn, dead.id) if won else []
            if not won:
                continue  # another worker declared it first
            resumed = await self.rt.engine.take_over(dead.id)
            log.warning(
                "executor %s declared dead (last heartbeat %s): fenced %d runs, "
                "resumed %d workflows in %.3f s",
                dead.id,
                dead.heartbeat_at.isoformat(),
                len(fenced),
                resumed,
                time.monotonic() - detected,
                extra={
                    "dead_executor": dead.id,
                    "detected_at": detected_at.isoformat(),
                    "last_heartbeat": dead.heartbeat_at.isoformat(),
                    "fenced_runs": fenced,
                    "runs": resumed,
                },
            )

    async def resume_exports(self) -> None:
        """Build the evidence exports whose builder died (its process stopped beating)."""
        await evidence_svc.resume_stale(self.rt)

    async def resume_suites(self) -> None:
        """Drive the suite runs whose driver died (its process stopped beating)."""
        await suites_svc.resume_orphaned(self.rt)

    async def score_completions(self) -> None:
        """Score the sampled share of finished production runs (benchmarks' on_completion)."""
        await self.completions.sample()

    async def release(self) -> None:
        """Admit held runs that now fit in their tenant's quota, and scheduled runs now due."""
        await self.rt.worker.release_due()

    async def deliver_webhooks(self) -> None:
        """Send the lifecycle webhooks due now (the outbox; services/webhooks.py)."""
        await self.rt.hooks.webhooks.drain()

    async def apply_retention(self) -> None:
        """Sweep what the tenants' policies no longer keep, if no process has lately."""
        await retention.sweep_if_due(self.rt, self.rt.engine.executor_id)

    async def poll_cancels(self) -> None:
        """Cancel local runs whose cancel was requested through another process."""
        await self.rt.worker.apply_remote_cancels()
