"""Helpers shared by the LangGraph SDK tests: keys, polling, stream parts."""

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx

# Each node of the counter sleeps this long: a run of it stays busy about 5 x SLEEP s.
SLEEP = 0.4
TIMEOUT = 30.0


def create_keys(database_url: str, tenants: list[str]) -> dict[str, str]:
    """One admin key per tenant, all made in one child process (each child costs ~1 s)."""
    code = (
        "import json, sys\n"
        "from runplane.admin import create_api_key\n"
        "from runplane.settings import Settings\n"
        f"s = Settings(database_url={database_url!r})\n"
        f"print(json.dumps({{t: create_api_key(s, tenant=t) for t in {tenants!r}}}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    keys: dict[str, str] = json.loads(out.stdout.strip().splitlines()[-1])
    return keys


def new_id() -> str:
    """A fresh UUID string (thread and assistant ids)."""
    return str(uuid.uuid4())


async def until(
    probe: Callable[[], Awaitable[Any]],
    done: Callable[[Any], bool],
    timeout: float = 15.0,
    every: float = 0.05,
) -> Any:
    """Call ``probe`` until ``done(result)``; return the last result (fail on timeout)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if done(last):
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met in {timeout} s; last value: {last!r}")


def until_sync(probe: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 15.0) -> Any:
    """``until`` for sync code."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if done(last):
            return last
        time.sleep(0.05)
    raise AssertionError(f"condition not met in {timeout} s; last value: {last!r}")


async def run_status(client: Any, thread_id: str, run_id: str) -> str:
    """The protocol status of a run."""
    run = await client.runs.get(thread_id, run_id)
    return str(run["status"])


async def wait_run_status(
    client: Any, thread_id: str, run_id: str, wanted: str | tuple[str, ...], timeout: float = 15.0
) -> dict[str, Any]:
    """Poll a run until its status is (one of) ``wanted``; return the run."""
    statuses = (wanted,) if isinstance(wanted, str) else wanted
    run: dict[str, Any] = await until(
        lambda: client.runs.get(thread_id, run_id),
        lambda r: r["status"] in statuses,
        timeout,
    )
    return run


async def collect(stream: Any) -> list[Any]:
    """Every part of an SDK stream (``StreamPart`` named tuples)."""
    return [part async for part in stream]


def events(parts: list[Any]) -> list[str]:
    """The event names of stream parts, without the final ``end`` some servers send."""
    return [p.event for p in parts if p.event != "end"]


def runplane_api(url: str, key: str) -> httpx.AsyncClient:
    """A client of runplane's own API (``/v1``), with the Bearer key."""
    return httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT
    )


class _Status:
    """What ``raises_status`` caught."""

    status_code = 0
    error: httpx.HTTPStatusError | None = None


@contextlib.contextmanager
def raises_status(status: int) -> Iterator[_Status]:
    """Expect an HTTP error of this status from an SDK call.

    The SDK raises its typed errors (``NotFoundError``, ``ConflictError``, ...) from most
    calls, but a plain ``httpx.HTTPStatusError`` from the calls that can reconnect
    (``runs.wait``, ``runs.join``, ``runs.cancel(wait=True)``); both are HTTPStatusErrors.
    """
    caught = _Status()
    try:
        yield caught
    except httpx.HTTPStatusError as err:
        caught.error = err
        caught.status_code = err.response.status_code
        assert caught.status_code == status, (caught.status_code, err.response.text)
    else:
        raise AssertionError(f"expected an HTTP {status}, got no error")
