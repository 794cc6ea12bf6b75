"""What the services share for the life of a process."""

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runplane.agents.registry import Project
from runplane.engine.base import Engine
from runplane.services.hub import EventHub
from runplane.settings import Settings
from runplane.store.db import Database

if TYPE_CHECKING:
    from runplane.graphs.host import GraphHost
    from runplane.services.crypto import Keys
    from runplane.services.execution import Runner


@dataclass
class Runtime:
    """Settings, database, engine and the loaded project, built once by the entry point."""

    settings: Settings
    db: Database
    engine: Engine
    project: Project
    hub: EventHub = field(default_factory=EventHub)
    synced_tenants: set[str] = field(default_factory=set)
    key_cache: dict[str, tuple[float, object]] = field(default_factory=dict)
    revision_cache: dict[tuple[str, str], object] = field(default_factory=dict)
    agent_cache: dict[tuple[str, str], tuple[float, Any]] = field(default_factory=dict)
    runner: "Runner" = field(init=False)
    keys: "Keys" = field(init=False)
    graphs: "GraphHost" = field(init=False)
    provider: Any = None
    background_tasks: set[asyncio.Task[None]] = field(default_factory=set)
