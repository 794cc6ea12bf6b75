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
  them, called by our heartbeat sweeper once it has fenced them (docs/architecture.md,
  Failover);
- a run that waits for a person ends its workflow; resuming starts a new one
  (``workflow_id``), so waiting holds no coroutine and no queue slot;
- steps and the event log are our own tables, written in one transaction per step
  boundary, so the workflow body calls no DBOS step at all.
"""

import asyncio
import contextvars
import logging
import time
import types
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from sqlite3 import Connection as SQLiteConnection
from typing import TYPE_CHECKING, TypeVar

import sqlalchemy as sa
from dbos import DBOS, DBOSConfig, Queue, SetEnqueueOptions, SetWorkflowID
from sqlalchemy.pool import ConnectionPoolEntry

from runplane.engine.base import Engine, Execute, WorkflowState, workflow_id
from runplane.store.dialect import (
    is_sqlite,
    plain_url,
    prepare_sqlite_file,
    psycopg_pooler_args,
    sqlite_path,
)

if TYPE_CHECKING:
    from dbos._sys_db import SystemDatabase

APPLICATION_VERSION = "runplane-1"
QUEUE = "runplane-runs"
# DBOS's bounds on a queued workflow's priority (lower starts first; unset is 0).
MAX_PRIORITY = 2**31 - 1

# DBOS is one instance per process, so the engine that serves it is too.
_ACTIVE: dict[str, "DbosEngine"] = {}


@DBOS.workflow(name="runplane.run")
async def run_workflow(run_id: str) -> str:
    """The durable workflow of one run: hand it to the executor until it returns."""
    engine: DbosEngine = _ACTIVE["engine"]
    return await engine.execute(run_id)


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
        pool_size: int = 4,
        wait_seconds: float = 30.0,
        application_name: str = "runplane",
        session_url: str | None = None,
        idle_transaction_seconds: float = 60.0,
    ) -> None:
        self.database_url = database_url
        # Set when ``database_url`` is a transaction-mode pooler (docs/scaling.md).
        self.session_url = session_url
        self.pool_size = pool_size
        self.wait_seconds = wait_seconds
        self.idle_transaction_seconds = idle_transaction_seconds
        self.application_name = application_name
        self.executor_id = executor_id
        self.worker = worker
        self.concurrency = concurrency
        self.polling_interval = polling_interval
        self._execute: Execute | None = None
        self._poll = QueuePoll(concurrency)

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
        _inline_system_calls(is_sqlite(url))
        if is_sqlite(url):
            config["system_database_engine"] = _sqlite_system_engine(url)
        else:
            # DBOS's pool is the process's share of its connection budget (store/budget.py);
            # its LISTEN connection is counted there too. DBOS retries a pool timeout.
            config["sys_db_pool_size"] = self.pool_size
            connect_args: dict[str, object] = {"application_name": self.application_name}
            if self.session_url is not None:
                connect_args.update(psycopg_pooler_args())
                # DBOS migrates under a session-level advisory lock, which a transaction
                # pooler would take on one server connection and release on another: it
                # migrates here, directly, so that launch() finds nothing to do.
                await asyncio.to_thread(DBOS.migrate, system_database_url(self.session_url))
            # A process cut off inside a transaction holds its locks until Postgres ends
            # the session; no later than it would be declared dead, so takeover never waits.
            config["sys_db_idle_transaction_timeout_sec"] = self.idle_transaction_seconds
            config["db_engine_kwargs"] = {
                "pool_size": self.pool_size,
                "max_overflow": 0,
                "pool_timeout": self.wait_seconds,
                "pool_pre_ping": True,
                "connect_args": connect_args,
            }
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
        if self.worker:
            self._poll.install()

    async def stop(self) -> None:
        """Shut DBOS down; pending workflows stay in the database."""
        if _ACTIVE.get("engine") is self:
            DBOS.destroy()
            _ACTIVE.pop("engine", None)

    def stop_taking(self) -> None:
        """Dequeue no more runs in this process (a drain); queued ones wait for others."""
        self._poll.taking = False

    def wake(self) -> None:
        """Poll the run queue at full pace for a while: runs may be waiting in it."""
        self._poll.wake()

    def slot_freed(self) -> None:
        """Poll at full pace only if the queue's last read left runs (or found no room)."""
        if self._poll.backlog:
            self._poll.wake()

    async def submit(
        self, run_id: str, *, here: bool, segment: int = 0, priority: int | None = None
    ) -> None:
        """Start the workflow now on this loop, or enqueue it for any worker.

        The queue serves the lowest ``priority`` first, then the oldest: admission's
        round-robin order across tenants (``engine/admission.py``).
        """
        with SetWorkflowID(workflow_id(run_id, segment)):
            if here:
                await DBOS.start_workflow_async(run_workflow, run_id)
            elif priority is None:
                await DBOS.enqueue_workflow_async(QUEUE, run_workflow, run_id)
                self._poll.wake()
            else:
                with SetEnqueueOptions(priority=max(1, min(priority, MAX_PRIORITY))):
                    await DBOS.enqueue_workflow_async(QUEUE, run_workflow, run_id)
                self._poll.wake()

    async def workflows(self, segments: Sequence[tuple[str, int]]) -> dict[str, WorkflowState]:
        """The workflows of the given (run id, segment) pairs, by run id; unknown ones left out."""
        if not segments:
            return {}
        runs = {workflow_id(run_id, segment): run_id for run_id, segment in segments}
        found = await DBOS.list_workflows_async(
            workflow_ids=list(runs), load_input=False, load_output=False
        )
        return {
            runs[wf.workflow_id]: WorkflowState(
                workflow_id=wf.workflow_id,
                status=str(wf.status),
                executor_id=wf.executor_id,
                updated_at=_from_epoch_ms(wf.updated_at),
            )
            for wf in found
            if wf.workflow_id in runs
        }

    def running_here(self, run_id: str, segment: int) -> bool:
        """Whether this process executes the workflow now (or has claimed it to)."""
        from dbos._dbos import _get_dbos_instance

        # DBOS's own register of the executions in this process (no public API has it).
        active = _get_dbos_instance()._active_workflows_set.activeList()
        return workflow_id(run_id, segment) in active

    async def resume(self, run_id: str, segment: int) -> None:
        """Queue again a started workflow that no live process runs (its executor is gone)."""
        # On the run queue, polled by workers only (as in ``take_over``).
        await DBOS.resume_workflow_async(workflow_id(run_id, segment), queue_name=QUEUE)
        self._poll.wake()

    async def discard(self, run_id: str) -> None:
        """Cancel the workflow of a run that never started."""
        await DBOS.cancel_workflow_async(run_id)

    async def take_over(self, executor_id: str) -> int:
        """Resume every pending workflow of a dead executor on the run queue.

        DBOS's own ``_recover_pending_workflows([id])`` would do the same, but puts directly
        started workflows on its internal queue, polled once a second and with no
        per-worker limit; ``resume_workflow`` names our queue (0.05 s, ``concurrency``).
        Either gives the workflow a new owner token, so the dead executor's DBOS
        checkpoints are refused too; our own writes are fenced by the run's epoch first.
        """
        pending = await DBOS.list_workflows_async(
            status="PENDING", executor_id=executor_id, load_input=False, load_output=False
        )
        for wf in pending:
            await DBOS.resume_workflow_async(wf.workflow_id, queue_name=QUEUE)
        self._poll.wake()
        return len(pending)


class QueuePoll:
    """This process's polls of the run queue: its own limit, its own pace, a drain.

    DBOS's queue thread wakes every ``polling_interval`` and reads, in two transactions,
    the queue's row, the application's versions and the queue's head. Three patches on
    DBOS's system database, here only (it has no API for any of them):

    - the queue's ``worker_concurrency`` is this process's own. DBOS keeps it in the
      queue's row, shared by every process and read again on each poll, so the last
      process to register would set every worker's limit (an API-only process with its
      default let one worker take the whole queue);
    - the row and the version check are read once every few seconds, not every poll;
    - the head is read at full pace only while there is a sign of work (a run queued or
      resumed here, a run changed in another process, the last read found runs, a run
      ended here while the queue may hold runs), otherwise every ``IDLE_SECONDS``: an
      idle server spent a tenth of a core on polls, and a run queued by another process
      still starts within that time. A run that ends with the queue found empty does
      not count: under load that kept the polls hot, for most of a poll per run.

    A drain (``taking`` False) claims nothing at all.
    """

    IDLE_SECONDS = 0.25
    HOT_SECONDS = 2.0
    CONFIG_SECONDS = 5.0

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.taking = True
        self._hot_until = time.monotonic() + self.HOT_SECONDS  # recovery may have queued runs
        self._read_at = 0.0
        self._queue: Queue | None = None
        self._queue_at = -self.CONFIG_SECONDS
        self._latest: bool | None = None
        self._latest_at = -self.CONFIG_SECONDS
        # Whether runs may wait in the queue: the last read claimed some, or found no room.
        self.backlog = True

    def wake(self) -> None:
        """Read the queue's head at full pace for ``HOT_SECONDS`` from now."""
        self._hot_until = time.monotonic() + self.HOT_SECONDS

    def install(self) -> None:
        """Put the patches on the launched DBOS instance's system database."""
        from dbos._dbos import _get_dbos_instance

        sys_db = _get_dbos_instance()._sys_db
        read_queue, claim = sys_db.get_queue, sys_db.start_queued_workflows
        is_latest = sys_db._is_latest_version

        def get_queue(name: str, **kwargs: "SystemDatabase | None") -> Queue | None:
            now = time.monotonic()
            if name != QUEUE or kwargs:
                return read_queue(name, **kwargs)
            if now - self._queue_at >= self.CONFIG_SECONDS:
                queue = read_queue(name)
                if queue is not None:
                    queue._worker_concurrency = self.concurrency
                self._queue, self._queue_at = queue, now
            return self._queue

        def start_queued_workflows(
            queue: Queue,
            executor_id: str,
            version: str,
            partition_key: str | None,
            running: int = 0,
            partition_running: int = 0,
            *,
            owner_xid: str | None = None,
            is_latest_version: bool | None = None,
        ) -> tuple[list[str], str | None]:
            if not self.taking:
                return [], None
            now = time.monotonic()
            if queue.name == QUEUE:
                if now >= self._hot_until and now - self._read_at < self.IDLE_SECONDS:
                    return [], None
                self._read_at = now
                if is_latest_version is None:
                    if now - self._latest_at >= self.CONFIG_SECONDS:
                        self._latest, self._latest_at = is_latest(version), now
                    is_latest_version = self._latest
            claimed, reason = claim(
                queue,
                executor_id,
                version,
                partition_key,
                running,
                partition_running,
                owner_xid=owner_xid,
                is_latest_version=is_latest_version,
            )
            if queue.name == QUEUE:
                self.backlog = bool(claimed) or reason is not None
                if claimed:
                    self.wake()
            return claimed, reason

        sys_db.get_queue = get_queue  # type: ignore[method-assign]
        # The claim's reason is DBOS's Literal of limit names; ours passes it on unread.
        sys_db.start_queued_workflows = start_queued_workflows  # type: ignore[method-assign,assignment]


def _from_epoch_ms(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def _allow_internal_queue(worker: bool) -> None:
    """Let only workers execute runs recovered onto DBOS's internal queue.

    ``listen_queues`` cannot exclude that queue (DBOS always polls it, and a worker's
    startup recovery puts directly started workflows there), so an API-only process
    gives it no room.
    """
    from dbos._dbos import _get_or_create_dbos_registry

    queue = _get_or_create_dbos_registry().get_internal_queue()
    queue._worker_concurrency = None if worker else 0


T = TypeVar("T")


class _InlineAsyncio(types.ModuleType):
    """``asyncio`` as DBOS's workflow code sees it on SQLite: ``to_thread`` runs the call here.

    DBOS hands each of its system-database calls (three per run: start, before, outcome)
    to a thread. On SQLite such a call takes microseconds and the hand-off costs far more
    (thread wake-ups and the GIL going back and forth); its file is DBOS's own, so no
    transaction of the app's, paused at an await, can hold it up. Each call still runs in
    a copy of the context, as it would in the thread.
    """

    def __getattr__(self, name: str) -> object:
        return getattr(asyncio, name)

    @staticmethod
    async def to_thread(func: Callable[..., T], /, *args: object, **kwargs: object) -> T:
        """Run ``func`` now, in a copy of the current context."""
        return contextvars.copy_context().run(func, *args, **kwargs)


def _inline_system_calls(inline: bool) -> None:
    """Let DBOS's workflow code make its system-database calls inline (SQLite) or in threads."""
    import dbos._core
    import dbos._outcome

    seen = _InlineAsyncio("asyncio") if inline else asyncio
    dbos._core.asyncio = seen  # type: ignore[attr-defined]
    dbos._outcome.asyncio = seen  # type: ignore[attr-defined]


def _sqlite_system_engine(url: str) -> sa.Engine:
    """DBOS's own SQLite engine, in WAL mode with NORMAL sync.

    DBOS's default keeps a rollback journal with a full fsync on every commit, which
    costs about 10 ms per write here; WAL with NORMAL sync survives any process crash
    (only an OS crash or power loss can drop the last commits).
    """
    prepare_sqlite_file(url)
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: SQLiteConnection, _record: ConnectionPoolEntry) -> None:
        dbapi_conn.isolation_level = "IMMEDIATE"
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")
        dbapi_conn.execute("PRAGMA busy_timeout=30000")
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    return engine
