"""Fixtures of the LangGraph SDK suite: the official ``langgraph_sdk`` clients on the live server.

Every module gets a tenant of its own (its threads, assistants, crons and store items
are invisible to the others); the keys are made once, in one child process.
"""

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient
from lgsdk import TIMEOUT, create_keys

TENANTS = (
    "assistants",
    "threads",
    "runs",
    "multitask",
    "crons",
    "store",
    "sync",
    "system",
    "other",
)


@pytest.fixture(scope="session")
def lg_keys(live_server: Any) -> dict[str, str]:
    """An admin key per tenant of this suite, by short name."""
    suffix = uuid.uuid4().hex[:8]
    keys = create_keys(live_server.database_url, [f"lg-{t}-{suffix}" for t in TENANTS])
    return {t: keys[f"lg-{t}-{suffix}"] for t in TENANTS}


@pytest.fixture(scope="module")
async def lg(
    request: pytest.FixtureRequest, live_server: Any, lg_keys: dict[str, str]
) -> AsyncIterator[LangGraphClient]:
    """The async SDK client of the module's tenant (``TENANT`` in the module)."""
    tenant = request.module.TENANT
    client = get_client(url=live_server.url, api_key=lg_keys[tenant], timeout=TIMEOUT)
    async with client:
        yield client


@pytest.fixture(scope="module")
async def other(live_server: Any, lg_keys: dict[str, str]) -> AsyncIterator[LangGraphClient]:
    """The async SDK client of another tenant, for isolation checks."""
    client = get_client(url=live_server.url, api_key=lg_keys["other"], timeout=TIMEOUT)
    async with client:
        yield client


@pytest.fixture(scope="module")
def lg_sync(
    request: pytest.FixtureRequest, live_server: Any, lg_keys: dict[str, str]
) -> Iterator[SyncLangGraphClient]:
    """The sync SDK client of the module's tenant."""
    tenant = request.module.TENANT
    client = get_sync_client(url=live_server.url, api_key=lg_keys[tenant], timeout=TIMEOUT)
    with client:
        yield client


@pytest.fixture(scope="module")
def key(request: pytest.FixtureRequest, lg_keys: dict[str, str]) -> str:
    """The raw key of the module's tenant (for runplane's own ``/v1`` API)."""
    return lg_keys[request.module.TENANT]
