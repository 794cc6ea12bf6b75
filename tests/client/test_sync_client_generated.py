"""The sync client is generated from the async one: one logic, two faces that match."""

import inspect
from typing import Any

import pytest

from runplane import AsyncClient, Client
from runplane.client import _generate_sync

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only

RESOURCES = (
    "runs",
    "agents",
    "approvals",
    "connections",
    "tools",
    "integrations",
    "sites",
    "files",
    "triggers",
    "webhooks",
    "models",
    "usage",
    "budgets",
    "governance",
    "evidence",
    "benchmarks",
    "activity",
    "quality",
)
# The only names one client has and the other has not: how each closes and enters.
ONLY_ASYNC = {"aclose", "__aenter__", "__aexit__"}
ONLY_SYNC = {"__enter__", "__exit__"}
CONTEXT_MANAGER = {"__enter__", "__exit__", "__aenter__", "__aexit__"}


def public_methods(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in vars(cls).items()
        if callable(member) and (not name.startswith("_") or name in CONTEXT_MANAGER)
    }


def test_the_checked_in_sync_client_is_what_the_generator_makes_from_the_async_one() -> None:
    expected = _generate_sync.generate()

    assert _generate_sync.SYNC_TARGET.read_text() == expected, (
        "_sync.py is stale: run python -m runplane.client._generate_sync"
    )


def test_the_generated_file_says_it_is_generated() -> None:
    first_line = _generate_sync.SYNC_TARGET.read_text().splitlines()[0]

    assert first_line == "# Generated from _async.py by _generate_sync.py; do not edit."


def test_unasync_turns_async_code_into_its_sync_twin() -> None:
    source = (
        "import asyncio\n"
        "class AsyncThing:\n"
        '    """An asynchronous thing."""\n'
        "    async def __aenter__(self) -> 'AsyncThing':\n"
        "        async with self._http as http:\n"
        "            async for line in http.aiter_lines():\n"
        "                await asyncio.sleep(0.1)\n"
        "        return self\n"
    )

    assert _generate_sync.unasync(source).split("\n", 3)[3] == (
        "import time\n"
        "class Thing:\n"
        '    """A synchronous thing."""\n'
        "    def __enter__(self) -> 'Thing':\n"
        "        with self._http as http:\n"
        "            for line in http.iter_lines():\n"
        "                time.sleep(0.1)\n"
        "        return self\n"
    )


def test_unasync_leaves_out_what_is_marked_async_only() -> None:
    source = (
        "class AsyncThing:\n"
        "    # unasync: begin async only\n"
        "    async def aclose(self) -> None:\n"
        "        await self.close()\n"
        "\n"
        "    # unasync: end async only\n"
        "    async def close(self) -> None:\n"
        "        await self._http.aclose()\n"
    )

    assert _generate_sync.unasync(source).split("\n", 3)[3] == (
        "class Thing:\n    def close(self) -> None:\n        self._http.close()\n"
    )


def test_both_clients_have_the_same_methods_with_the_same_parameters() -> None:
    sync_methods, async_methods = public_methods(Client), public_methods(AsyncClient)
    assert set(async_methods) - set(sync_methods) == ONLY_ASYNC
    assert set(sync_methods) - set(async_methods) == ONLY_SYNC

    sync_client, async_client = Client("http://runplane.test"), AsyncClient("http://runplane.test")
    for resource in RESOURCES:
        sync_cls = type(getattr(sync_client, resource))
        async_cls = type(getattr(async_client, resource))
        sync_api, async_api = public_methods(sync_cls), public_methods(async_cls)
        assert sync_api.keys() == async_api.keys(), resource
        for name, method in sync_api.items():
            sync_params = inspect.signature(method).parameters
            async_params = inspect.signature(async_api[name]).parameters
            assert list(sync_params.values())[1:] == list(async_params.values())[1:], name
            assert not inspect.iscoroutinefunction(method), name
            assert inspect.iscoroutinefunction(async_api[name]) or (
                inspect.isasyncgenfunction(async_api[name])
            ), name
    sync_client.close()
