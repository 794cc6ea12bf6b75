"""The real ``Client`` and ``AsyncClient`` against a live server, no fakes."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import runplane
from runplane.client import (
    AsyncClient,
    AuthenticationError,
    Client,
    ConflictError,
    NotFoundError,
    ValidationError,
)
from runplane.schemas import EventPublic, Page, RunPublic, StepPublic
from runplane.testing.server import create_key

TERMINAL = ("succeeded", "failed", "canceled")


def new_key(live_server: Any, prefix: str) -> str:
    return create_key(live_server.database_url, tenant=f"{prefix}-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def key(live_server: Any) -> str:
    """A key of a tenant of this module's own."""
    return new_key(live_server, "client")


@pytest.fixture
def client(live_server: Any, key: str) -> Iterator[Client]:
    with Client(live_server.url, key, timeout=10) as c:
        yield c


@pytest.fixture
async def aclient(live_server: Any, key: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(live_server.url, key, timeout=10) as c:
        yield c


def nonces(run: RunPublic) -> list[str]:
    assert run.result is not None
    return [s["nonce"] for s in run.result.content["steps"]]


def assert_clean_stream(events: list[EventPublic], final: str) -> None:
    assert all(isinstance(e, EventPublic) for e in events)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == "status" and events[0].data["status"] == "queued"
    assert events[-1].type == "status" and events[-1].data["status"] == final
    assert sum(e.type == "status" and e.data["status"] in TERMINAL for e in events) == 1


@pytest.mark.database_independent
def test_the_clients_are_exported_at_the_top_level() -> None:
    assert runplane.Client is Client and runplane.AsyncClient is AsyncClient


# -- sync -------------------------------------------------------------------------------


def test_create_with_wait_returns_a_typed_finished_run(client: Client) -> None:
    run = client.runs.create("echo", {"x": 1}, wait=10, name="typed", metadata={"m": True})
    assert isinstance(run, RunPublic)
    assert run.status == "succeeded" and run.agent_name == "echo"
    assert run.result is not None and run.result.type == "json"
    assert run.result.content == {"x": 1}
    assert run.name == "typed" and run.metadata == {"m": True}
    assert run.finished_at is not None and run.started_at is not None

    got = client.runs.get(run.id)
    assert isinstance(got, RunPublic)
    assert got.model_dump() == run.model_dump()


def test_list_filters_and_iter_across_pages(live_server: Any) -> None:
    with Client(live_server.url, new_key(live_server, "list"), timeout=10) as client:
        echoes = [
            client.runs.create("echo", {"i": i}, name=f"alpha {i}", wait=10) for i in range(5)
        ]
        failed = client.runs.create("fail", {}, name="beta", wait=10)
        assert failed.status == "failed" and failed.error is not None
        newest_first = [failed.id, *reversed([r.id for r in echoes])]

        page = client.runs.list(limit=2)
        assert isinstance(page, Page)
        assert [r.id for r in page.items] == newest_first[:2]
        assert page.continuation_token
        second = client.runs.list(limit=2, continuation_token=page.continuation_token)
        assert [r.id for r in second.items] == newest_first[2:4]

        assert [r.id for r in client.runs.iter(limit=2)] == newest_first
        assert [r.id for r in client.runs.iter(agent_id="echo", limit=2)] == newest_first[1:]
        assert [r.id for r in client.runs.list(status="failed").items] == [failed.id]
        assert [r.id for r in client.runs.list(q="ALPHA 3").items] == [echoes[3].id]
        assert client.runs.list(trigger="schedule").items == []
        assert all(isinstance(r, RunPublic) for r in client.runs.iter(limit=2))


def test_stream_yields_typed_events_in_order_up_to_the_terminal_status(
    client: Client,
) -> None:
    run = client.runs.create("steps", {"steps": 3, "sleep": 0.1})
    events = list(client.runs.stream(run.id))
    assert_clean_stream(events, "succeeded")
    assert [e.data["number"] for e in events if e.type == "step.completed"] == [1, 2, 3]
    assert events == client.runs.events(run.id).items
    # Resuming after a seq yields only what follows it.
    assert list(client.runs.stream(run.id, after=3)) == events[3:]


def test_wait_returns_the_run_once_it_has_ended(client: Client) -> None:
    run = client.runs.create("steps", {"steps": 2, "sleep": 0.2})
    assert run.status in ("queued", "running")
    done = client.runs.wait(run.id, timeout=10)
    assert done.status == "succeeded" and done.steps_finished == 2
    assert [s["index"] for s in done.result.content["steps"]] == [1, 2]  # type: ignore[union-attr]


def test_cancel_a_running_run_ends_it_canceled(client: Client) -> None:
    run = client.runs.create("steps", {"steps": 3, "sleep": 30})
    with pytest.raises(TimeoutError):
        client.runs.wait(run.id, timeout=0.3)
    for event in client.runs.stream(run.id):
        if event.type == "step.started":
            break
    asked = client.runs.cancel(run.id)
    assert isinstance(asked, RunPublic) and asked.cancel_requested_at is not None
    done = client.runs.wait(run.id, timeout=5)
    assert done.status == "canceled"
    assert done.cancel_receipt is not None and done.cancel_receipt.step == 1
    with pytest.raises(ConflictError) as err:
        client.runs.cancel(run.id)
    assert err.value.status_code == 409


def test_rerun_from_step_reuses_the_outputs_of_earlier_steps(client: Client) -> None:
    first = client.runs.create("steps", {"steps": 4}, wait=10)
    assert first.status == "succeeded"
    again = client.runs.rerun(first.id, from_step=3)
    assert again.id != first.id and again.rerun_of == first.id and again.from_step == 3
    second = client.runs.wait(again.id, timeout=10)
    assert second.status == "succeeded"
    old, new = nonces(first), nonces(second)
    assert new[:2] == old[:2]
    assert new[2] != old[2] and new[3] != old[3]
    steps = client.runs.steps(second.id).items
    assert all(isinstance(s, StepPublic) for s in steps)
    assert [s.status for s in steps] == ["reused", "reused", "completed", "completed"]
    assert [s.reused_from for s in steps[:2]] == [first.id, first.id]
    assert [s.output["nonce"] for s in steps] == new


def test_errors_are_typed(client: Client, live_server: Any) -> None:
    with pytest.raises(NotFoundError) as missing:
        client.runs.create("no-such-agent", {})
    assert missing.value.status_code == 404
    assert [d.name for d in missing.value.details] == ["agent_id"]

    with pytest.raises(NotFoundError):
        client.runs.get("run_doesnotexist")

    with pytest.raises(ValidationError) as invalid:
        client.runs.create("steps", {"steps": 0})
    assert invalid.value.status_code == 422
    assert [d.name for d in invalid.value.details] == ["input.steps"]

    with Client(live_server.url, "rp_not-a-real-key", timeout=10) as bad:
        with pytest.raises(AuthenticationError) as denied:
            bad.runs.list()
    assert denied.value.status_code == 401
    with Client(live_server.url, None, timeout=10) as anonymous:
        anonymous.api_key = None  # not even RUNPLANE_API_KEY from the environment
        with pytest.raises(AuthenticationError):
            anonymous.runs.get("run_doesnotexist")


# -- async ------------------------------------------------------------------------------


async def test_async_create_get_wait_and_stream(aclient: AsyncClient) -> None:
    run = await aclient.runs.create("echo", {"y": 2}, wait=10)
    assert isinstance(run, RunPublic) and run.status == "succeeded"
    assert run.result is not None and run.result.content == {"y": 2}
    assert (await aclient.runs.get(run.id)).model_dump() == run.model_dump()

    started = await aclient.runs.create("steps", {"steps": 2, "sleep": 0.1})
    events = [e async for e in aclient.runs.stream(started.id)]
    assert_clean_stream(events, "succeeded")
    assert events == (await aclient.runs.events(started.id)).items
    done = await aclient.runs.wait(started.id, timeout=10)
    assert done.status == "succeeded" and done.steps_finished == 2


async def test_async_list_and_iter_across_pages(live_server: Any) -> None:
    key = await asyncio.to_thread(new_key, live_server, "alist")
    async with AsyncClient(live_server.url, key, timeout=10) as client:
        runs = [await client.runs.create("echo", {"i": i}, wait=10) for i in range(3)]
        newest_first = [r.id for r in reversed(runs)]
        page = await client.runs.list(limit=2)
        assert [r.id for r in page.items] == newest_first[:2] and page.continuation_token
        assert [r.id async for r in client.runs.iter(limit=2)] == newest_first
        assert (await client.runs.list(status="failed")).items == []
        assert [r.id async for r in client.runs.iter(agent_id="echo", limit=1)] == newest_first


async def test_async_cancel_and_rerun(aclient: AsyncClient) -> None:
    long = await aclient.runs.create("steps", {"steps": 3, "sleep": 30})
    async for event in aclient.runs.stream(long.id):
        if event.type == "step.started":
            break
    await aclient.runs.cancel(long.id)
    canceled = await aclient.runs.wait(long.id, timeout=5)
    assert canceled.status == "canceled"

    first = await aclient.runs.create("steps", {"steps": 3}, wait=10)
    again = await aclient.runs.rerun(first.id, from_step=2)
    second = await aclient.runs.wait(again.id, timeout=10)
    assert second.status == "succeeded" and second.rerun_of == first.id
    old, new = nonces(first), nonces(second)
    assert new[0] == old[0] and new[1] != old[1] and new[2] != old[2]


async def test_async_errors_are_typed(aclient: AsyncClient, live_server: Any) -> None:
    with pytest.raises(NotFoundError):
        await aclient.runs.create("no-such-agent", {})
    with pytest.raises(ValidationError) as invalid:
        await aclient.runs.create("steps", {"steps": "many"})
    assert invalid.value.status_code == 422
    assert [d.name for d in invalid.value.details] == ["input.steps"]
    async with AsyncClient(live_server.url, "rp_not-a-real-key", timeout=10) as bad:
        with pytest.raises(AuthenticationError) as denied:
            await bad.runs.create("echo", {})
    assert denied.value.status_code == 401
