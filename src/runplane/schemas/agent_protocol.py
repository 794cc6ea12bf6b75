"""Bodies and answers of the Agent Protocol (LangGraph's server API), as the SDK sends them.

Unknown fields are ignored, as LangGraph's server does (the SDK sends some, like
``langsmith_tracer`` or ``feedback_keys``, that have no meaning here).
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runplane.domain.models import iso
from runplane.schemas.storable import INT32_MAX, check_storable

StreamModeName = Literal[
    "values",
    "updates",
    "messages",
    "messages-tuple",
    "events",
    "custom",
    "debug",
    "tasks",
    "checkpoints",
    "tools",
    "lifecycle",
]
# Modes the SDK offers that graphs hosted here do not produce: accepted, silent.
SILENT_MODES = frozenset({"tools", "lifecycle"})
MultitaskStrategy = Literal["reject", "interrupt", "rollback", "enqueue"]
SortOrder = Literal["asc", "desc"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: object) -> object:
        check_storable(data)
        return data


class CommandBody(_Body):
    """``Command``: resume an interrupt, go to nodes, update the state."""

    resume: Any = None
    goto: Any = None
    update: Any = None


class RunCreateBody(_Body):
    """The body of every run-creating route."""

    assistant_id: str = Field(min_length=1, max_length=200)
    input: Any = None
    command: CommandBody | None = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None
    stream_mode: StreamModeName | list[StreamModeName] = "values"
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    webhook: str | None = Field(default=None, max_length=2000)
    multitask_strategy: MultitaskStrategy = "enqueue"
    if_not_exists: Literal["create", "reject"] = "reject"
    on_completion: Literal["delete", "keep"] | None = None
    on_disconnect: Literal["cancel", "continue"] | None = None
    after_seconds: float | None = Field(default=None, ge=0, le=7 * 24 * 3600)
    durability: Literal["sync", "async", "exit"] | None = None

    def modes(self) -> list[str]:
        """The stream modes as a list."""
        return [self.stream_mode] if isinstance(self.stream_mode, str) else list(self.stream_mode)


class AssistantCreate(_Body):
    """``POST /assistants``."""

    graph_id: str = Field(min_length=1, max_length=64)
    assistant_id: str | None = Field(default=None, max_length=64)
    config: dict[str, Any] = {}
    context: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    if_exists: Literal["raise", "do_nothing"] = "raise"
    name: str | None = Field(default=None, max_length=200)
    description: str | None = None


class AssistantPatch(_Body):
    """``PATCH /assistants/{id}``: a new version."""

    graph_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = Field(default=None, max_length=200)
    description: str | None = None


class Search(_Body):
    """Shared search options."""

    metadata: dict[str, Any] | None = None
    limit: int = Field(strict=True, default=10, ge=1, le=1000)
    offset: int = Field(strict=True, default=0, ge=0, le=INT32_MAX)
    sort_by: str | None = None
    sort_order: SortOrder | None = None
    select: list[str] | None = None


class AssistantSearch(Search):
    """``POST /assistants/search`` and ``/count``."""

    graph_id: str | None = None
    name: str | None = None


class VersionsSearch(_Body):
    """``POST /assistants/{id}/versions``."""

    metadata: dict[str, Any] | None = None
    limit: int = Field(strict=True, default=10, ge=1, le=1000)
    offset: int = Field(strict=True, default=0, ge=0, le=INT32_MAX)


class LatestVersion(_Body):
    """``POST /assistants/{id}/latest``."""

    version: int = Field(strict=True, ge=1, le=INT32_MAX)


class ThreadCreate(_Body):
    """``POST /threads``."""

    thread_id: str | None = Field(default=None, min_length=1, max_length=64)
    metadata: dict[str, Any] = {}
    if_exists: Literal["raise", "do_nothing"] = "raise"
    supersteps: list[dict[str, Any]] | None = None
    graph_id: str | None = None


class ThreadPatch(_Body):
    """``PATCH /threads/{id}``."""

    metadata: dict[str, Any] = {}


class ThreadSearch(Search):
    """``POST /threads/search`` and ``/count``."""

    values: dict[str, Any] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    ids: list[str] | None = None


class StateUpdate(_Body):
    """``POST /threads/{id}/state``."""

    values: Any = None
    as_node: str | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None


class StateAt(_Body):
    """``POST /threads/{id}/state/checkpoint``."""

    checkpoint: dict[str, Any]
    subgraphs: bool = False


class HistoryQuery(_Body):
    """``POST /threads/{id}/history``."""

    limit: int = Field(strict=True, default=10, ge=1, le=1000)
    before: dict[str, Any] | str | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None


class CronCreate(RunCreateBody):
    """``POST /runs/crons`` and ``/threads/{id}/runs/crons``."""

    schedule: str = Field(min_length=1, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    end_time: datetime | None = None
    enabled: bool = True
    on_run_completed: Literal["delete", "keep"] | None = None


class CronPatch(_Body):
    """``PATCH /runs/crons/{id}``."""

    schedule: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = None
    end_time: datetime | None = None
    input: Any = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    webhook: str | None = None
    enabled: bool | None = None


class CronSearch(Search):
    """``POST /runs/crons/search`` and ``/count``."""

    assistant_id: str | None = None
    thread_id: str | None = None
    enabled: bool | None = None


class ItemPut(_Body):
    """``PUT /store/items``."""

    namespace: list[str] = Field(min_length=1)
    key: str = Field(min_length=1, max_length=500)
    value: dict[str, Any]
    index: Any = None
    ttl: float | None = None


class ItemDelete(_Body):
    """``DELETE /store/items``."""

    namespace: list[str] = Field(min_length=1)
    key: str = Field(min_length=1)


class ItemSearch(_Body):
    """``POST /store/items/search``."""

    namespace_prefix: list[str] = []
    filter: dict[str, Any] | None = None
    limit: int = Field(strict=True, default=10, ge=1, le=1000)
    offset: int = Field(strict=True, default=0, ge=0, le=INT32_MAX)
    query: str | None = None


class NamespaceSearch(_Body):
    """``POST /store/namespaces``."""

    prefix: list[str] | None = None
    suffix: list[str] | None = None
    max_depth: int | None = Field(strict=True, default=None, ge=1, le=INT32_MAX)
    limit: int = Field(strict=True, default=100, ge=1, le=1000)
    offset: int = Field(strict=True, default=0, ge=0, le=INT32_MAX)


def ts(value: datetime | None) -> str | None:
    """A time as the protocol sends it."""
    return iso(value) if value is not None else None


def matches(metadata: dict[str, Any] | None, wanted: dict[str, Any] | None) -> bool:
    """Whether ``metadata`` contains every key/value of ``wanted``."""
    if not wanted:
        return True
    have = metadata or {}
    return all(have.get(k) == v for k, v in wanted.items())
