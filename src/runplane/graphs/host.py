"""The graph host: runs LangGraph graphs as runplane runs, on langgraph's own savers.

Checkpoints and store items live in the same database as everything else, in the
tables of ``langgraph-checkpoint-sqlite`` / ``-postgres``, under the tenant's id
(``TenantSaver``, ``TenantStore``): a thread is its tenant's and its id together. A run on a thread resumes
from its last checkpoint after a crash; a stateless run (a temporary thread) keeps
its checkpoints in memory and starts over.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command, Send

from runplane.agents.registry import Project
from runplane.agents.spec import AgentSpec
from runplane.domain.events import ResultData
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import RunRecord, utcnow
from runplane.engine.hub import EventHub
from runplane.engine.journal import Journal
from runplane.engine.outcome import Suspend
from runplane.engine.ports import IdleRuns
from runplane.graphs import relay, savers
from runplane.graphs.streams import Part, RunStream, Streams
from runplane.graphs.tenant_saver import TenantSaver, tenant_thread_id
from runplane.graphs.tenant_store import TenantStore
from runplane.graphs.wire import interrupt_json, jsonable
from runplane.schemas.agent_protocol import SILENT_MODES
from runplane.store import graphs as graphs_store
from runplane.store import notify
from runplane.store import runs as runs_store
from runplane.store import stream_parts as parts_store
from runplane.store.db import Database

log = logging.getLogger("runplane.graphs")
INTERRUPT = "__interrupt__"
# What the executor always asks langgraph for: steps come from updates, the result
# from values.
BASE_MODES = ("updates", "values")
# A graph keeps its own checkpoints (a stateless run starts over after a crash, one on a
# thread carries on and records from them the node steps it had not written): its node
# steps are written in batches, or with the run's end, not one transaction per node.
GRAPH_FLUSH_DELAY = 1.0
# How often a worker looks for listeners that joined its runs from other processes (a
# NOTIFY tells it at once on Postgres), and how long relayed parts are kept.
JOIN_CHECK_SECONDS = 1.0
PARTS_KEPT = timedelta(minutes=10)
PRUNE_EVERY = 60


class GraphHost:
    """Savers, the store, live streams, and the executor of graph runs."""

    flush_delay = GRAPH_FLUSH_DELAY

    def __init__(
        self,
        database_url: str,
        db: Database,
        hub: EventHub,
        project: Project,
        *,
        saver_connections: int = 2,
        application_name: str = "runplane",
        session_url: str | None = None,
        executor_id: str = "",
    ) -> None:
        self.database_url = database_url
        self.session_url = session_url
        self.executor_id = executor_id
        self.saver_connections = saver_connections
        self.application_name = application_name
        self.db = db
        self.hub = hub
        self.project = project
        self.streams = Streams()
        # Wake-ups for listeners of runs executing elsewhere: their parts were relayed.
        self.relayed = EventHub()
        # The graph runs executing here, by run id: what they stream.
        self._outputs: dict[str, _Output] = {}
        # Runs joined from elsewhere before they started here (monotonic time of the join).
        self._joins: dict[str, float] = {}
        self._watch: asyncio.Task[None] | None = None
        # Tenants whose default assistants exist (checked once per process).
        self.assistant_tenants: set[str] = set()
        self.assistant_cache: dict[tuple[str, str], tuple[float, Any]] = {}
        self.saver: Any = None
        self.store: Any = None
        self._exit = contextlib.AsyncExitStack()

    async def start(self) -> None:
        """Open the checkpoint saver and the store on the runplane database."""
        if not self.project.graphs:
            return
        self.saver, self.store = await savers.open_savers(
            self.database_url,
            self._exit,
            connections=self.saver_connections,
            application_name=self.application_name,
            session_url=self.session_url,
        )
        self._watch = asyncio.create_task(self._watch_joins())

    async def stop(self) -> None:
        """Close the savers."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        await self._exit.aclose()

    # -- streams across processes ---------------------------------------------------------

    def joined(self, run_id: str) -> None:
        """A listener in another process joined the run: relay its parts if it runs here."""
        out = self._outputs.get(run_id)
        if out is None:
            # Queued, or waiting for its turn: it relays from its first part if it runs here.
            self._joins[run_id] = time.monotonic()
        elif out.relay is None:
            out.relay = relay.Relay(self.db, run_id)

    async def join_elsewhere(self, run_id: str) -> int:
        """Ask the run's worker, in another process, to relay its parts; where they start."""
        async with self.db.write() as conn:
            since = await parts_store.mark_join(conn, run_id, utcnow())
            await notify.announce(conn, run_id, notify.JOINS)
        return since

    def follow(
        self,
        run_id: str,
        local: RunStream,
        since: int,
        here: Callable[[], bool],
        ended: Callable[[], Awaitable[bool]],
    ) -> AsyncGenerator[Part, None]:
        """A run's parts until it ends: from memory if it runs here, else relayed."""
        return relay.follow(
            self.db,
            run_id,
            local,
            since,
            parts=self.relayed,
            runs=self.hub,
            here=here,
            ended=ended,
            # Without NOTIFY (SQLite), relayed parts and the end are polled for.
            poll=0.25 if self.db.is_sqlite else 1.0,
        )

    async def _listened_elsewhere(self, run_id: str, opts: dict[str, Any]) -> bool:
        """Whether a listener in another process waits for the parts of a run starting here."""
        if self._joins.pop(run_id, None) is not None:
            return True  # joined (NOTIFY) while it was queued or waiting for its turn
        if opts.get("listener") not in (None, self.executor_id):
            return True  # created by a stream request that another process answers
        if opts.get("origin") == self.executor_id:
            return False  # created here: a join elsewhere would have been heard
        # Queued by another process: a listener may have joined before this one listened.
        async with self.db.read() as conn:
            return bool(await parts_store.joined(conn, [run_id]))

    async def _watch_joins(self) -> None:
        """Relay the runs joined from elsewhere (a missed NOTIFY); prune old relayed parts."""
        rounds = 0
        while True:
            await asyncio.sleep(JOIN_CHECK_SECONDS)
            rounds += 1
            try:
                quiet = [r for r, out in self._outputs.items() if out.relay is None]
                if quiet:
                    async with self.db.read() as conn:
                        for run_id in await parts_store.joined(conn, quiet):
                            self.joined(run_id)
                if rounds % PRUNE_EVERY == 0:
                    old = time.monotonic() - PARTS_KEPT.total_seconds()
                    self._joins = {r: at for r, at in self._joins.items() if at > old}
                    async with self.db.write() as conn:
                        await parts_store.prune(conn, utcnow() - PARTS_KEPT)
            except Exception as exc:  # tried again next round
                log.warning("checking for stream listeners failed: %s", exc)

    def finished(self, run_id: str) -> None:
        """Forget the run's live streams."""
        self.streams.finish(run_id)

    async def wait_turn(self, run: RunRecord) -> bool:
        """Hold a thread's run until the runs created before it end (or it is canceled).

        Tell whether it waited (the caller then reads the run again).
        """
        if run["thread_id"] is None:
            return False
        waited = False
        while True:
            mine = self.hub.signal(run["id"])
            async with self.db.read() as conn:
                ahead = await graphs_store.runs_ahead(
                    conn, run["tenant_id"], run["thread_id"], run["created_at"], run["id"]
                )
                if waited:
                    fresh = await runs_store.get_run(conn, run["tenant_id"], run["id"])
                    if fresh is None or fresh["cancel_requested_at"] is not None:
                        return True
            if not ahead:
                return waited
            waited = True
            theirs = self.hub.signal(ahead[0]["id"])
            await _either(mine, theirs, 0.5)

    def saver_for(self, tenant_id: str) -> TenantSaver | None:
        """The tenant's view of the checkpoint saver (None when no graph is served)."""
        return None if self.saver is None else TenantSaver(self.saver, tenant_id)

    async def graph_for(
        self, graph_id: str, config: dict[str, Any], temporary: bool, tenant_id: str
    ) -> Any:
        """The compiled graph with the tenant's checkpointer and store attached."""
        spec = self.project.graphs[graph_id]
        graph = await spec.build(config)
        checkpointer = InMemorySaver() if temporary else self.saver_for(tenant_id)
        store = TenantStore(self.store, tenant_id) if self.store is not None else None
        return graph.copy(update={"checkpointer": checkpointer, "store": store})

    async def execute(
        self, spec: AgentSpec, journal: Journal, run: RunRecord, idle: IdleRuns
    ) -> Any:
        """Run the graph of a run to its end or its interrupt; return its final values."""
        opts: dict[str, Any] = run["graph"] or {}
        temporary = run["thread_id"] is None
        journal.continue_numbering()
        # ``after_seconds`` is not waited out here: the run was held, holding no slot,
        # until it was due (``not_before``, engine/admission.py).
        config = run_config(run, opts)
        graph = await self.graph_for(spec.name, config, temporary, run["tenant_id"])
        if not temporary and opts.get("continues_interrupt"):
            await self._continue_paused(run, idle)
        graph_input = await self._input(graph, config, run, opts, temporary, journal)
        wanted = set(opts.get("stream_mode") or ["values"])
        out = _Output(self.streams, run["id"], wanted, bool(opts.get("stream_subgraphs")))
        if await self._listened_elsewhere(run["id"], opts):
            out.relay = relay.Relay(self.db, run["id"])

        def settle_thread(status: str, values: Any, interrupts: Any = None) -> None:
            if not temporary:  # the thread's new state commits with the run's end
                journal.at_end(_thread_writer(run, status, values, interrupts or {}))

        kwargs = _stream_options(run, opts, wanted, temporary)
        self._outputs[run["id"]] = out
        try:
            if "events" in wanted:
                async for event in graph.astream_events(
                    graph_input, config, version="v2", **kwargs
                ):
                    out.event(event)
                    if event["event"] == "on_chain_stream" and not event.get("parent_ids"):
                        await out.part(journal, *_with_namespace(event["data"]["chunk"]))
            else:
                async for item in graph.astream(graph_input, config, **kwargs):
                    await out.part(journal, *_with_namespace(item))
        except asyncio.CancelledError:
            settle_thread("idle", out.values)
            raise
        except Exception:
            settle_thread("error", out.values)
            raise
        finally:
            # Relayed parts are written before the run's end: a listener elsewhere that
            # sees the end has them all.
            if self._outputs.get(run["id"]) is out:
                del self._outputs[run["id"]]
            if out.relay is not None:
                await out.relay.close()
        values = jsonable(out.values) if out.values is not None else {}
        if out.interrupted:
            by_task = await _interrupts_by_task(graph, config)
            flat = [i for group in by_task.values() for i in group]
            settle_thread("interrupted", values, by_task)
            raise Suspend(
                RunStatus.PAUSED,
                None,
                event=("interrupt", {"interrupts": flat, "thread_id": run["thread_id"]}),
                waiting_on={
                    "interrupt": {"thread_id": run["thread_id"], "interrupts": flat},
                    "values": {**values, INTERRUPT: flat} if flat else values,
                },
            )
        settle_thread("idle", values)
        return values

    async def _input(
        self,
        graph: Any,
        config: dict[str, Any],
        run: RunRecord,
        opts: dict[str, Any],
        temporary: bool,
        journal: Journal,
    ) -> Any:
        if not temporary and run["started_at"] is not None:
            # A retried attempt: carry on from this run's last checkpoint, if it made one.
            latest = await graph.checkpointer.aget_tuple(
                {"configurable": {"thread_id": run["thread_id"], "checkpoint_ns": ""}}
            )
            if latest is not None and latest.metadata.get("run_id") == run["id"]:
                await _record_missed_steps(graph, run, journal)
                return None
        command = opts.get("command")
        if command:
            return _command(command)
        return run["input"]

    async def _continue_paused(self, run: RunRecord, idle: IdleRuns) -> None:
        """End the thread's runs that paused at an interrupt: this run carries on for them."""
        assert run["thread_id"] is not None
        async with self.db.read() as conn:
            paused = await graphs_store.thread_runs(
                conn, run["tenant_id"], run["thread_id"], statuses=[RunStatus.PAUSED]
            )
        for old in paused:
            values = (old["waiting_on"] or {}).get("values")
            result: ResultData = {
                "type": "json",
                "content": values,
                "sources": [],
                "continued_by": run["id"],
            }
            with contextlib.suppress(runs_store.StaleRun):
                await idle.end_idle(old, RunStatus.SUCCEEDED, [], result=result)

    async def delete_checkpoints(
        self, tenant_id: str, thread_id: str, run_id: str | None = None
    ) -> None:
        """Forget a tenant's thread's checkpoints (only those a run wrote, with ``run_id``)."""
        if self.saver is None:
            return
        if run_id is None:
            await TenantSaver(self.saver, tenant_id).adelete_thread(thread_id)
        else:
            await savers.delete_run_checkpoints(
                self.saver, tenant_thread_id(tenant_id, thread_id), run_id
            )


class _Output:
    """What a graph run streams: steps for runplane, parts for the listeners.

    Parts go to listeners in this process (``streams``) and, through ``relay`` when it is
    set, to listeners in others; with neither, none is made.
    """

    def __init__(self, streams: Streams, run_id: str, wanted: set[str], subgraphs: bool) -> None:
        self.streams = streams
        self.relay: relay.Relay | None = None
        self.run_id = run_id
        self.wanted = wanted
        self.subgraphs = subgraphs
        self.values: Any = None
        self.interrupted = False
        self.messages: dict[str, Any] = {}

    async def part(self, journal: Journal, ns: tuple[str, ...], mode: str, chunk: Any) -> None:
        if not ns:
            if mode == "updates" and isinstance(chunk, dict):
                for node, update in chunk.items():
                    if node == INTERRUPT:
                        self.interrupted = True
                    else:
                        await journal.record_step(node, jsonable(update))
            elif mode == "values":
                self.values = chunk
                if isinstance(chunk, dict) and INTERRUPT in chunk:
                    # The interrupt is the run's news, not part of the thread's state.
                    self.interrupted = True
                    self.values = {k: v for k, v in chunk.items() if k != INTERRUPT}
        elif not self.subgraphs:
            return
        stream = self.streams.of(self.run_id)
        if stream is None and self.relay is None:
            return
        suffix = "|" + "|".join(ns) if ns else ""
        if mode == "messages":
            for event, data in self._messages(chunk):
                self._put(stream, event + suffix, data)
            return
        if mode == "updates" and "updates" not in self.wanted:
            return
        if mode == "values":
            if "values" not in self.wanted:
                return
            chunk = jsonable(chunk)
        self._put(stream, mode + suffix, jsonable(chunk))

    def event(self, event: dict[str, Any]) -> None:
        stream = self.streams.of(self.run_id)
        if stream is not None or self.relay is not None:
            self._put(stream, "events", jsonable(event))

    def _put(self, stream: RunStream | None, event: str, data: Any) -> None:
        if stream is not None:
            stream.put(event, data)
        if self.relay is not None:
            self.relay.put(event, data)

    def _messages(self, chunk: Any) -> list[tuple[str, Any]]:
        message, metadata = chunk
        out: list[tuple[str, Any]] = []
        if "messages-tuple" in self.wanted:
            out.append(("messages", [jsonable(message), jsonable(metadata)]))
        if "messages" in self.wanted:
            msg_id = getattr(message, "id", None) or ""
            if msg_id not in self.messages:
                out.append(("messages/metadata", {msg_id: {"metadata": jsonable(metadata)}}))
                self.messages[msg_id] = message
            elif hasattr(message, "__add__") and type(message).__name__.endswith("Chunk"):
                self.messages[msg_id] = self.messages[msg_id] + message
            whole = self.messages[msg_id]
            kind = "partial" if type(message).__name__.endswith("Chunk") else "complete"
            out.append((f"messages/{kind}", [jsonable(whole)]))
        return out


def _thread_writer(run: Any, status: str, values: Any, interrupts: dict[str, Any]) -> Any:
    """The thread's update at the end of a run: status, values, and its graph."""

    async def write(conn: Any) -> None:
        thread = await graphs_store.get_thread(conn, run["tenant_id"], run["thread_id"])
        if thread is None:
            return  # deleted meanwhile
        fields: dict[str, Any] = {
            "status": status,
            "values": jsonable(values),
            "interrupts": interrupts,
            "updated_at": utcnow(),
        }
        metadata = thread["metadata"] or {}
        if metadata.get("graph_id") != run["agent_name"]:
            fields["metadata"] = {
                **metadata,
                "graph_id": run["agent_name"],
                "assistant_id": run["assistant_id"],
            }
        await graphs_store.update_thread(conn, run["tenant_id"], run["thread_id"], **fields)

    return write


async def _either(a: asyncio.Event, b: asyncio.Event, timeout: float) -> None:
    waits = [asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


async def _record_missed_steps(graph: Any, run: RunRecord, journal: Journal) -> None:
    """Record the nodes a crashed attempt finished (checkpointed) but had not yet logged."""
    thread = {"configurable": {"thread_id": run["thread_id"], "checkpoint_ns": ""}}
    history = [s async for s in graph.aget_state_history(thread)]
    mine = [s for s in reversed(history) if s.metadata.get("run_id") == run["id"]]
    pairs = zip(mine, mine[1:], strict=False)
    ran = [t.name for before, _ in pairs for t in before.tasks if not t.name.startswith("__")]
    logged = journal.recorded_step_names()
    for name in ran:
        if name in logged:
            logged.remove(name)
        else:
            await journal.record_step(name, {"recovered": "from the checkpoint after a crash"})


def _with_namespace(item: tuple[Any, ...]) -> tuple[Any, ...]:
    """``(namespace, mode, chunk)`` whether or not subgraphs were streamed."""
    return item if len(item) == 3 else ((), *item)


def _stream_options(
    run: Any, opts: dict[str, Any], wanted: set[str], temporary: bool
) -> dict[str, Any]:
    """What ``astream`` is asked: the modes wanted plus ours, interrupts, context."""
    asked = wanted - SILENT_MODES - {"events"}
    modes = {"messages" if m in ("messages", "messages-tuple") else m for m in asked}
    kwargs: dict[str, Any] = {
        "stream_mode": sorted(modes | set(BASE_MODES)),
        # Parts of subgraphs only when asked for: streaming them costs a fifth of a run.
        "subgraphs": bool(opts.get("stream_subgraphs")),
        "durability": "exit" if temporary else opts.get("durability") or "async",
    }
    for key in ("interrupt_before", "interrupt_after"):
        if opts.get(key):
            kwargs[key] = opts[key]
    if run["context"]:
        kwargs["context"] = run["context"]
    return kwargs


def _command(data: dict[str, Any]) -> Command[Any]:
    goto = data.get("goto")
    if isinstance(goto, dict):
        goto = Send(goto["node"], goto.get("input"))
    elif isinstance(goto, list):
        goto = [Send(g["node"], g.get("input")) if isinstance(g, dict) else g for g in goto]
    update = data.get("update")
    if isinstance(update, list):
        update = [tuple(u) for u in update]
    return Command(resume=data.get("resume"), goto=goto or (), update=update)


async def _interrupts_by_task(graph: Any, config: dict[str, Any]) -> dict[str, list[Any]]:
    state = await graph.aget_state(config)
    return {
        task.id: [interrupt_json(i) for i in task.interrupts]
        for task in state.tasks
        if task.interrupts
    }


def run_config(run: Any, opts: dict[str, Any]) -> dict[str, Any]:
    """The RunnableConfig of a graph run: the assistant's, the run's, and its identity."""
    config = dict(opts.get("config") or {})
    configurable = dict(config.get("configurable") or {})
    thread_id = run["thread_id"] or run["id"]
    configurable.update(
        {
            "thread_id": thread_id,
            "run_id": run["id"],
            "graph_id": run["agent_name"],
            "assistant_id": run["assistant_id"],
            "checkpoint_ns": "",
        }
    )
    checkpoint = opts.get("checkpoint") or {}
    if opts.get("checkpoint_id"):
        checkpoint = {**checkpoint, "checkpoint_id": opts["checkpoint_id"]}
    for key in ("checkpoint_id", "checkpoint_ns", "checkpoint_map"):
        if checkpoint.get(key):
            configurable[key] = checkpoint[key]
    if run["user_id"]:
        configurable["user_id"] = run["user_id"]
    config["configurable"] = configurable
    config["metadata"] = {
        **(config.get("metadata") or {}),
        **(run["metadata"] or {}),
        "run_id": run["id"],
        "thread_id": thread_id,
        "graph_id": run["agent_name"],
        "assistant_id": run["assistant_id"],
    }
    config.setdefault("recursion_limit", 25)
    return config
