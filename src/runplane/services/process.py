"""Bringing a runplane process up and down: migrate, load, launch, background loops."""

import asyncio
import functools
import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

from runplane.agents.registry import load_project
from runplane.builtins.steps import steps_spec
from runplane.domain.models import utcnow
from runplane.engine import tracing
from runplane.engine.admission import Admission, Limits
from runplane.engine.dbos import DbosEngine
from runplane.engine.hub import EventHub
from runplane.engine.identity import claim_executor_id
from runplane.engine.lease import Lease
from runplane.engine.metrics import Metrics
from runplane.engine.worker import Slots, Worker
from runplane.graphs.host import GraphHost
from runplane.providers import build_provider
from runplane.services import runs as runs_svc
from runplane.services.crypto import Keys, data_dir
from runplane.services.hooks import ServiceHooks
from runplane.services.metrics import metrics_listener
from runplane.services.runtime import Runtime
from runplane.services.stream_limits import StreamLimits
from runplane.services.workers import Background
from runplane.settings import Settings
from runplane.store import migrate, notify
from runplane.store import runs as runs_store
from runplane.store.blobs import open_blob_store
from runplane.store.budget import fleet_load, share_out, warn_if_over
from runplane.store.db import Database
from runplane.store.dialect import make_private_dir
from runplane.store.notify import Listener

log = logging.getLogger("runplane.process")
# How often a drain looks whether every run here waits between steps.
DRAIN_POLL_SECONDS = 0.05


@asynccontextmanager
async def running_process(settings: Settings) -> AsyncIterator[Runtime]:
    """Everything a server or worker process needs, for as long as the block runs."""
    # First, so that no file below (database, lock, secret) is made in a folder open to all.
    make_private_dir(data_dir(settings))
    if settings.migrate:
        await asyncio.to_thread(migrate.upgrade, settings.session_url)
    else:
        await asyncio.to_thread(migrate.require_current, settings.session_url)
    project = load_project(settings.project)
    # Traces, if the OTEL_* variables ask for them (docs/operations.md, "Traces").
    tracing.setup()
    slot = claim_executor_id(settings.executor_id, settings.role, data_dir(settings) / "executors")
    budget = share_out(settings.db_connections)
    # Every connection of this process names it, so pg_stat_activity shows who holds what.
    app_name = f"runplane {slot.executor_id}"[:63]
    # Behind a transaction pooler (docs/scaling.md), what needs a session goes direct.
    session_url = settings.session_url if settings.behind_pooler else None
    db = Database(
        settings.database_url,
        budget.runplane,
        wait_seconds=settings.db_wait_seconds,
        application_name=app_name,
        pooler=settings.behind_pooler,
        idle_transaction_seconds=settings.executor_dead_after,
    )
    engine = DbosEngine(
        settings.database_url,
        executor_id=slot.executor_id,
        worker=settings.executes,
        concurrency=settings.concurrency,
        polling_interval=settings.queue_polling_interval,
        pool_size=budget.dbos,
        wait_seconds=settings.db_wait_seconds,
        application_name=app_name,
        session_url=session_url,
        idle_transaction_seconds=settings.executor_dead_after,
    )
    hub = EventHub()
    keys = Keys.from_settings(settings)
    provider = build_provider(settings)
    graphs = GraphHost(
        settings.database_url,
        db,
        hub,
        project,
        saver_connections=budget.savers,
        application_name=app_name,
        session_url=session_url,
        executor_id=slot.executor_id,
    )
    hooks = ServiceHooks(settings, db, keys, project, provider)
    # This process's registry: counted where runs move and webhooks are tried.
    metrics = Metrics()
    hooks.webhooks.metrics = metrics
    blobs = open_blob_store(settings.file_store, db, settings.s3_endpoint_url)
    worker = Worker(
        blobs=blobs,
        slots=Slots(settings.executes, settings.concurrency),
        db=db,
        engine=engine,
        hub=hub,
        project=project,
        hooks=hooks,
        graphs=graphs,
        admission=Admission(db, Limits(settings.default_max_running, settings.tenant_max_queued)),
        lease=Lease(settings.executor_dead_after / 2),
        revision_spec=steps_spec,
        metrics=metrics,
    )
    rt = Runtime(
        settings=settings,
        db=db,
        engine=engine,
        project=project,
        hub=hub,
        keys=keys,
        provider=provider,
        graphs=graphs,
        hooks=hooks,
        worker=worker,
        blobs=blobs,
        streams=StreamLimits(settings.sse_max_per_key, settings.sse_max_seconds),
        metrics=metrics,
    )
    metrics.pools = lambda: {"runplane": db.pool_stats()}
    metrics.subscribers = rt.streams.total
    hooks.children = functools.partial(runs_svc.start_child, rt)
    background = Background(rt)

    def run_changed(run_id: str) -> None:
        rt.hub.notify(run_id)
        engine.wake()  # a run changed elsewhere: the fleet is busy, queued runs may wait

    handlers = {
        notify.CHANNEL: run_changed,
        notify.PARTS: graphs.relayed.notify,
        notify.JOINS: graphs.joined,
        notify.ENDPOINTS: hooks.webhooks.forget,
    }
    listener = (
        None
        if db.is_sqlite
        else Listener(settings.session_url, handlers, rt.hub.notify_all, app_name)
    )
    stack = AsyncExitStack()
    try:
        if listener is not None:
            log.info("executor %s: %s", slot.executor_id, budget.describe())
            if not settings.behind_pooler:  # the pooler, not Postgres, counts our connections
                await _check_fleet(rt, budget.total)
            await listener.start()
        await rt.graphs.start()
        await engine.start(worker.execute)
        background.start()
        if settings.metrics_bind:
            await stack.enter_async_context(metrics_listener(rt, settings.metrics_bind))
        # What start-up loaded lives as long as the process: keeping it out of the
        # collector's sweeps, and sweeping less often, saves about 0.3 ms per run.
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 50, 100)
        yield rt
    finally:
        await stack.aclose()
        await background.stop()
        if listener is not None:
            await listener.stop()
        await engine.stop()
        await rt.graphs.stop()
        await db.close()
        slot.release()
        tracing.shutdown()  # last: the spans of runs stopped above go out too


async def _check_fleet(rt: Runtime, mine: int) -> None:
    """Warn if this process's budget and the live ones' exceed Postgres' max_connections."""
    alive_after = utcnow() - timedelta(seconds=rt.settings.executor_dead_after)
    async with rt.db.read() as conn:
        load = await fleet_load(conn, rt.engine.executor_id, mine, alive_after)
    warn_if_over(load)


async def drain(rt: Runtime, grace: float) -> int:
    """Shut this process's runs down gracefully; return how many it handed to others.

    It takes no new run at once (runs created through it go to the queue, for another
    worker, or for this one after a restart), lets each running step finish for up to
    ``grace`` seconds, holding every run before its next step, then hands the runs
    still here back: their epoch moves on (this process's writes are refused from then
    on) and their workflows go back on the queue, where a live worker resumes them from
    their last recorded step at its next poll, as a takeover of a dead executor does
    (``Background.take_over_dead``), without waiting for this one to be declared dead.
    """
    worker = rt.worker
    worker.drain()
    started = time.monotonic()
    log.info("draining: %d runs here, %g s to finish their steps", worker.executing, grace)
    while not worker.parked() and time.monotonic() - started < grace:
        await asyncio.sleep(DRAIN_POLL_SECONDS)
    if worker.executing == 0:
        log.info("drained in %.2f s: no run left here", time.monotonic() - started)
        return 0
    me = rt.engine.executor_id
    async with rt.db.write() as conn:
        fenced = await runs_store.fence_owner(conn, me)
    handed = await rt.engine.take_over(me)
    log.info(
        "drained in %.2f s: handed %d runs to other workers",
        time.monotonic() - started,
        handed,
        extra={"fenced_runs": fenced, "runs": handed},
    )
    return handed
