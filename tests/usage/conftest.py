"""The usage tests' own app: the agents of ``usage_agents.py``, a priced test provider."""

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from usage_agents import MeteredProvider

from runplane.app import create_app
from runplane.services.runtime import Runtime
from runplane.settings import Settings

PROJECT = Path(__file__).with_name("runplane.toml")


@pytest.fixture(scope="session")
async def app(
    new_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FastAPI]:
    """An app whose project holds the usage test agents, answered by ``MeteredProvider``."""
    settings = Settings(
        database_url=new_database("usage"),
        project=PROJECT,
        executor_id=f"test-{uuid.uuid4().hex[:8]}",
        cancel_poll_seconds=0.1,
        heartbeat_seconds=0.5,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        rt: Runtime = application.state.rt
        rt.hooks.provider = MeteredProvider()
        yield application


@pytest.fixture
def provider(rt: Runtime) -> MeteredProvider:
    """The app's model provider, which counts its calls."""
    assert isinstance(rt.hooks.provider, MeteredProvider)
    return rt.hooks.provider
