"""What the services share for the life of a process."""

import asyncio
from dataclasses import dataclass, field

from runplane.agents.registry import Project
from runplane.domain.models import AgentRecord, Principal, RevisionRecord
from runplane.engine.base import Engine
from runplane.engine.hub import EventHub
from runplane.engine.metrics import Metrics
from runplane.engine.worker import Worker
from runplane.graphs.host import GraphHost
from runplane.providers import ModelProvider
from runplane.services.crypto import Keys
from runplane.services.hooks import ServiceHooks
from runplane.services.stream_limits import StreamLimits
from runplane.settings import Settings
from runplane.store.blobs import BlobStore
from runplane.store.db import Database


@dataclass
class Runtime:
    """Settings, database, engine, worker and the loaded project, built whole at start."""

    settings: Settings
    db: Database
    engine: Engine
    project: Project
    hub: EventHub
    keys: Keys
    provider: ModelProvider | None
    graphs: GraphHost
    hooks: ServiceHooks
    worker: Worker
    blobs: BlobStore
    streams: StreamLimits
    metrics: Metrics = field(default_factory=Metrics)
    synced_tenants: set[str] = field(default_factory=set)
    key_cache: dict[str, tuple[float, Principal]] = field(default_factory=dict)
    revision_cache: dict[tuple[str, str], RevisionRecord] = field(default_factory=dict)
    agent_cache: dict[tuple[str, str], tuple[float, AgentRecord]] = field(default_factory=dict)
    # Set once /readyz saw the schema at this code's newest migration (it stays so).
    schema_current: bool = False
    background_tasks: set[asyncio.Task[None]] = field(default_factory=set)
