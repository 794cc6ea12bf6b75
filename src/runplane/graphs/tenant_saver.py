"""One tenant's view of langgraph's checkpoint saver: its thread ids sit under the tenant's id.

Callers choose thread ids, so two tenants may both have a thread ``support-42``. The
saver keys checkpoints by ``thread_id`` alone; this view stores them under
``"{tenant_id}:{thread_id}"`` and hands configs back with the caller's own id, so
graphs, the state and the history see the id the caller gave and never another
tenant's checkpoints. Every saver runplane gives a graph on a thread is one of these.
"""

from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)

from runplane.store.retry import retrying


def tenant_thread_id(tenant_id: str, thread_id: str) -> str:
    """The id the saver keeps a tenant's thread under (tenant ids hold no ``:``)."""
    return f"{tenant_id}:{thread_id}"


class TenantSaver(BaseCheckpointSaver[Any]):
    """A checkpoint saver whose every thread id is prefixed with the tenant's id."""

    def __init__(self, saver: BaseCheckpointSaver[Any], tenant_id: str) -> None:
        self.saver = saver
        self.tenant_id = tenant_id
        self.prefix = tenant_thread_id(tenant_id, "")
        self.serde = saver.serde

    # -- the mapping ---------------------------------------------------------------------

    def _thread(self, thread_id: object) -> str:
        return tenant_thread_id(self.tenant_id, str(thread_id))

    def _in(self, config: RunnableConfig) -> RunnableConfig:
        configurable = dict(config.get("configurable") or {})
        if configurable.get("thread_id") is None:
            # Without a thread the saver would answer for every tenant's threads.
            raise ValueError("a tenant's checkpoints are read and written by thread_id")
        configurable["thread_id"] = self._thread(configurable["thread_id"])
        return {**config, "configurable": configurable}

    def _out(self, config: RunnableConfig) -> RunnableConfig:
        configurable = dict(config.get("configurable") or {})
        thread_id = configurable.get("thread_id")
        if isinstance(thread_id, str) and thread_id.startswith(self.prefix):
            configurable["thread_id"] = thread_id[len(self.prefix) :]
        return {**config, "configurable": configurable}

    def _out_tuple(self, found: CheckpointTuple | None) -> CheckpointTuple | None:
        if found is None:
            return None
        parent = found.parent_config
        return found._replace(
            config=self._out(found.config),
            parent_config=self._out(parent) if parent is not None else None,
        )

    # -- async (what the graph runner uses) ----------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint at the config (the latest of the thread without an id)."""
        inner = self._in(config)
        found = await retrying(lambda: self.saver.aget_tuple(inner), "reading a checkpoint")
        return self._out_tuple(found)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """The thread's checkpoints, newest first."""
        if config is None:
            raise ValueError("a tenant's checkpoints are listed by thread_id")
        async for found in self.saver.alist(
            self._in(config),
            filter=filter,
            before=self._in(before) if before is not None else None,
            limit=limit,
        ):
            out = self._out_tuple(found)
            assert out is not None
            yield out

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint; its config, with the caller's thread id.

        Writes are upserts by checkpoint id: one tried again after a passing database
        failure stores the same row, and the graph does not fail for the blip.
        """
        inner = self._in(config)
        stored = await retrying(
            lambda: self.saver.aput(inner, checkpoint, metadata, new_versions),
            "writing a checkpoint",
        )
        return self._out(stored)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes (an upsert too, tried again like ``aput``)."""
        inner = self._in(config)
        await retrying(
            lambda: self.saver.aput_writes(inner, writes, task_id, task_path),
            "writing a checkpoint's pending writes",
        )

    async def adelete_thread(self, thread_id: str) -> None:
        """Forget the tenant's thread's checkpoints."""
        await self.saver.adelete_thread(self._thread(thread_id))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Forget the checkpoints these runs wrote (run ids are runplane's, never shared)."""
        await self.saver.adelete_for_runs(run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy one of the tenant's threads to another of its threads."""
        await self.saver.acopy_thread(
            self._thread(source_thread_id), self._thread(target_thread_id)
        )

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Prune the tenant's threads."""
        await self.saver.aprune([self._thread(t) for t in thread_ids], strategy=strategy)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """Per channel, the writes since its nearest stored value."""
        return await self.saver.aget_delta_channel_history(
            config=self._in(config), channels=channels
        )

    # -- sync (a sync graph call; runplane's own code is async) ---------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint at the config."""
        return self._out_tuple(self.saver.get_tuple(self._in(config)))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """The thread's checkpoints, newest first."""
        if config is None:
            raise ValueError("a tenant's checkpoints are listed by thread_id")
        for found in self.saver.list(
            self._in(config),
            filter=filter,
            before=self._in(before) if before is not None else None,
            limit=limit,
        ):
            out = self._out_tuple(found)
            assert out is not None
            yield out

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint."""
        return self._out(self.saver.put(self._in(config), checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes."""
        self.saver.put_writes(self._in(config), writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        """Forget the tenant's thread's checkpoints."""
        self.saver.delete_thread(self._thread(thread_id))

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """Per channel, the writes since its nearest stored value."""
        return self.saver.get_delta_channel_history(config=self._in(config), channels=channels)

    # -- the rest is the saver's own ------------------------------------------------------

    def get_next_version(self, current: Any, channel: None) -> Any:
        """The saver's next channel version."""
        return self.saver.get_next_version(current, channel)

    def with_allowlist(self, extra_allowlist: Collection[tuple[str, ...]]) -> "TenantSaver":
        """This view over the saver with a wider msgpack allow-list."""
        inner = self.saver.with_allowlist(extra_allowlist)
        return self if inner is self.saver else TenantSaver(inner, self.tenant_id)
