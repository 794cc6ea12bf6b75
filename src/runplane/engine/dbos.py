"""The DBOS Transact engine: the only module that imports DBOS.

A run is one DBOS workflow whose id is the run id. DBOS gives us the durable start,
the queue with per-worker concurrency, and recovery of a process's pending runs
when it restarts. What the DBOS 3.4 spike showed, and how this module answers it:

- queues are rows, registered after launch with an explicit ``worker_concurrency``
  and a short polling interval (the 1 s default makes runs start late);
- every process has a stable, unique ``executor_id`` and a pinned
  ``application_version`` (the default "local" id re-runs live workflows, and the
  default version orphans pending runs on any code change);
- open-source DBOS does not take over a dead process's runs: ``take_over`` resumes
  them, called by our heartbeat sweeper;
- a run that waits for a person ends its workflow; resuming starts a new one
  (``workflow_id``), so waiting holds no coroutine and no queue slot;
- steps and the event log are our own tables, written in one transaction per step
  boundary, so the workflow body calls no DBOS step at all.
"""

import logging
from sqlite3 import Connection as SQLiteConnection

import sqlalchemy as sa
from dbos import DBOS, DBOSConfig, SetWorkflowID
from sqlalchemy.pool import ConnectionPoolEntry

from runplane.engine.base import Engine, Execute
from runplane.store.dialect import is_sqlite, plain_url, sqlite_path

APPLICATION_VERSION = "runplane-1"
QUEUE = "runplane-runs"

# DBOS is one instance per process, so the engine that serves it is too.
_ACTIVE: dict[str, "DbosEngine"] = {}


@DBOS.workflow(name="runplane.run")
async def run_workflow(run_id: str) -> str:
    """The durable workflow of one run: hand it to the executor until it returns."""
    engine: DbosEngine = _ACTIVE["engine"]
    return await engine.execute(run_id)


def workflow_id(run_id: str, segment: int) -> str:
    """The workflow of a run's segment: the run id, then ``run_….1``, ``.2`` after waits.

    A waiting run's workflow has ended (so it holds nothing); resuming starts the next.
    """
    return run_id if segment == 0 else f"{run_id}.{segment}"


def system_database_url(database_url: str) -> str:
    """Where DBOS keeps its tables: beside the SQLite file, or the same Postgres."""
    if is_sqlite(database_url):
        path = sqlite_path(database_url)
        return f"sqlite:///{path.with_name(path.stem + '.dbos.db')}"
    return plain_url(database_url)


class DbosEngine(Engine):
    """Durable runs on DBOS Transact."""

    def __init__(
        self,
        database_url: str,
        *,
        executor_id: str,
        worker: bool,
        concurrency: int,
        polling_interval: float,
    ) -> None:
        self.database_url = database_url
        self.executor_id = executor_id
        self.worker = worker
        self.concurrency = concurrency
        self.polling_interval = polling_interval
        self._execute: Execute | None = None

    async def execute(self, run_id: str) -> str:
        """Called by the workflow: run the executor given at start."""
        assert self._execute is not None
        return await self._execute(run_id)

    async def start(self, execute: Execute) -> None:
        """Launch DBOS (recovering this executor's pending runs) and the run queue."""
        self._execute = execute
        if _ACTIVE.get("engine") is not None:
            DBOS.destroy()
        _ACTIVE["engine"] = self
        logging.getLogger("dbos").setLevel(logging.WARNING)
        url = system_database_url(self.database_url)
        config: DBOSConfig = {
            "name": "runplane",
            "system_database_url": url,
            "executor_id": self.executor_id,
            "application_version": APPLICATION_VERSION,
            "notification_listener_polling_interval_sec": 0.05,
            "log_level": "WARNING",
        }
        if is_sqlite(url):
            config["system_database_engine"] = _sqlite_system_engine(url)
        DBOS(config=config)
        _allow_internal_queue(self.worker)
        if not self.worker:
            DBOS.listen_queues([])
        DBOS.launch()
        await DBOS.register_queue_async(
            QUEUE,
            worker_concurrency=self.concurrency,
            polling_interval_sec=self.polling_interval,
            on_conflict="always_update",
        )

    async def stop(self) -> None:
        """Shut DBOS down; pending workflows stay in the database."""
        if _ACTIVE.get("engine") is self:
            DBOS.destroy()
            _ACTIVE.pop("engine", None)

    async def submit(self, run_id: str, *, here: bool, segment: int = 0) -> None:
        """Start the workflow now on this loop, or enqueue it for any worker."""
        with SetWorkflowID(workflow_id(run_id, segment)):
            if here:
                await DBOS.start_workflow_async(run_workflow, run_id)
            else:
                await DBOS.enqueue_workflow_async(QUEUE, run_workflow, run_id)

    async def resubmit_if_lost(self, run_id: str, segment: int = 0) -> bool:
        """Enqueue the run's workflow if DBOS has never heard of it."""
        if await DBOS.get_workflow_status_async(workflow_id(run_id, segment)) is not None:
            return False
        await self.submit(run_id, here=False, segment=segment)
        return True

    async def discard(self, run_id: str) -> None:
        """Cancel the workflow of a run that never started."""
        await DBOS.cancel_workflow_async(run_id)

    async def take_over(self, executor_id: str) -> int:
        """Resume every pending workflow of a dead executor on the run queue."""
        pending = await DBOS.list_workflows_async(status="PENDING", executor_id=executor_id)
        for wf in pending:
            # Without a queue name DBOS resumes onto its internal queue, which every
            # process polls; the run queue is polled by workers only.
            await DBOS.resume_workflow_async(wf.workflow_id, queue_name=QUEUE)
        return len(pending)


def _allow_internal_queue(worker: bool) -> None:
    """Let only workers execute runs recovered onto DBOS's internal queue.

    ``listen_queues`` cannot exclude that queue (DBOS always polls it, and a worker's
    startup recovery puts directly started workflows there), so an API-only process
    gives it no room.
    """
    from dbos._dbos import _get_or_create_dbos_registry

    queue = _get_or_create_dbos_registry().get_internal_queue()
    queue._worker_concurrency = None if worker else 0


def _sqlite_system_engine(url: str) -> sa.Engine:
    """DBOS's own SQLite engine, in WAL mode with NORMAL sync.

    DBOS's default keeps a rollback journal with a full fsync on every commit, which
    costs about 10 ms per write here; WAL with NORMAL sync survives any process crash
    (only an OS crash or power loss can drop the last commits).
    """
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: SQLiteConnection, _record: ConnectionPoolEntry) -> None:
        dbapi_conn.isolation_level = "IMMEDIATE"
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")
        dbapi_conn.execute("PRAGMA busy_timeout=30000")
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    return engine
