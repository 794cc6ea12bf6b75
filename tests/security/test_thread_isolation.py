"""Thread ids are chosen by callers: two tenants using the same one never meet.

The attack (issue 11, finding 1): tenant A runs on thread ``support-42`` (one run paused
at an interrupt, one still running) and deletes it; tenant B creates ``support-42``.
B must not read A's runs (input, config, metadata), nor A's checkpoints in its state or
history; B's runs must not end A's paused runs; A's running run must not write into
B's thread. And while both tenants hold a ``support-42``, each sees only its own.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

THREAD = "support-42"
SECRET = "A-secret-7f3c"
# Each node of the counter graph sleeps this long: a run of it stays busy about 5 x SLEEP s.
SLEEP = 0.4

MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]


async def until(
    probe: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], timeout: float = 15.0
) -> Any:
    """Call ``probe`` until ``done(result)``; return the last result (fail on timeout)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if done(last):
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met in {timeout} s; last value: {last!r}")


async def ok(response: Awaitable[httpx.Response], status: int = 200) -> Any:
    """The JSON of a response that must have ``status``."""
    r = await response
    assert r.status_code == status, r.text
    return r.json() if r.content else None


async def create_thread(client: httpx.AsyncClient) -> None:
    await ok(client.post("/threads", json={"thread_id": THREAD}))


async def run_status(client: httpx.AsyncClient, run_id: str) -> str:
    """The run's canonical status, through the native API."""
    return str((await ok(client.get(f"/v1/runs/{run_id}")))["status"])


async def thread_runs(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = await ok(client.get(f"/threads/{THREAD}/runs"))
    return runs


async def history(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    states: list[dict[str, Any]] = await ok(client.post(f"/threads/{THREAD}/history", json={}))
    return states


async def pause_on_approval(client: httpx.AsyncClient, action: str, secret: str) -> str:
    """Run the approval graph on the thread until its interrupt; return the run id."""
    paused = await ok(
        client.post(
            f"/threads/{THREAD}/runs/wait",
            json={
                "assistant_id": "approval",
                "input": {"action": action},
                "config": {"configurable": {"api_token": secret}},
                "metadata": {"note": secret},
            },
        )
    )
    assert paused["__interrupt__"][0]["value"]["action"] == action
    (run,) = [r for r in await thread_runs(client) if r["status"] == "interrupted"]
    return str(run["run_id"])


async def resume(client: httpx.AsyncClient) -> Any:
    """Approve the thread's interrupt; the graph's final values."""
    return await ok(
        client.post(
            f"/threads/{THREAD}/runs/wait",
            json={"assistant_id": "approval", "command": {"resume": {"approved": True}}},
        )
    )


async def start_counter(client: httpx.AsyncClient, count: int) -> str:
    """Start a slow counter run on the thread; return its id once it is running."""
    run = await ok(
        client.post(
            f"/threads/{THREAD}/runs",
            json={"assistant_id": "counter", "input": {"count": count, "sleep": SLEEP}},
        )
    )
    run_id = str(run["run_id"])
    await until(lambda: run_status(client, run_id), lambda s: s == "running")
    return run_id


def assert_nothing_of_a(seen: object) -> None:
    text = str(seen)
    assert SECRET not in text and "A-pay" not in text, text


async def test_a_reused_thread_id_shows_none_of_the_deleted_threads_runs_or_checkpoints(
    make_client: MakeClient,
) -> None:
    a, b = await make_client(), await make_client()
    await create_thread(a)
    a_paused = await pause_on_approval(a, "A-pay", SECRET)

    await ok(a.delete(f"/threads/{THREAD}"), 204)
    # Deleting the thread cancelled its paused run first; the run stays in A's history.
    assert await run_status(a, a_paused) == "canceled"

    await create_thread(b)
    assert await thread_runs(b) == []
    assert (await ok(b.get(f"/threads/{THREAD}/runs/{a_paused}"), 404))["status_code"] == 404
    state = await ok(b.get(f"/threads/{THREAD}/state"))
    assert state["values"] == {} and state["next"] == []
    assert state["checkpoint"]["checkpoint_id"] is None
    assert await history(b) == []
    thread = await ok(b.get(f"/threads/{THREAD}"))
    assert thread["status"] == "idle" and thread["values"] == {}
    assert_nothing_of_a([state, thread])

    # B's own run pauses and is resumed: A's paused run is not "carried on" by it.
    b_paused = await pause_on_approval(b, "B-ship", "B-secret")
    done = await resume(b)
    assert done["action"] == "B-ship" and done["done"] == "B-ship: done"
    assert await run_status(a, a_paused) == "canceled"
    assert (await ok(a.get(f"/v1/runs/{a_paused}")))["result"] is None
    assert {r["run_id"] for r in await thread_runs(b)} >= {b_paused}
    assert_nothing_of_a([await thread_runs(b), await history(b)])
    # A can no longer reach the thread it deleted, nor B's thread of the same id.
    await ok(a.get(f"/threads/{THREAD}/runs"), 404)
    await ok(a.get(f"/threads/{THREAD}/state"), 404)


async def test_deleting_a_thread_stops_its_running_run_before_another_tenant_reuses_the_id(
    make_client: MakeClient,
) -> None:
    a, b = await make_client(), await make_client()
    await create_thread(a)
    a_running = await start_counter(a, 1000)

    await ok(a.delete(f"/threads/{THREAD}"), 204)
    # The delete answers only once the run has stopped: it can write nothing afterwards.
    assert await run_status(a, a_running) == "canceled"

    await create_thread(b)
    done = await ok(
        b.post(
            f"/threads/{THREAD}/runs/wait",
            json={"assistant_id": "counter", "input": {"count": 0, "sleep": 0}},
        )
    )
    assert done["count"] == 5
    # Longer than A's run would have taken: nothing of it lands in B's thread.
    await asyncio.sleep(SLEEP * 6)
    assert (await ok(b.get(f"/threads/{THREAD}/state")))["values"]["count"] == 5
    assert (await ok(b.get(f"/threads/{THREAD}")))["values"]["count"] == 5
    (b_run,) = await thread_runs(b)
    assert b_run["run_id"] != a_running
    states = await history(b)
    assert states and {s["metadata"]["run_id"] for s in states} == {b_run["run_id"]}
    assert await run_status(a, a_running) == "canceled"


async def test_two_tenants_on_the_same_thread_id_at_once_keep_separate_runs_and_state(
    make_client: MakeClient,
) -> None:
    a, b = await make_client(), await make_client()
    await create_thread(a)
    await create_thread(b)  # no conflict, and no sign that A holds the id
    a_paused = await pause_on_approval(a, "A-pay", SECRET)
    a_state = await ok(a.get(f"/threads/{THREAD}/state"))

    # B's thread is B's alone: empty, idle, with none of A's runs.
    assert await thread_runs(b) == []
    assert await history(b) == []
    assert (await ok(b.get(f"/threads/{THREAD}/state")))["checkpoint"]["checkpoint_id"] is None
    await ok(b.patch(f"/threads/{THREAD}", json={"metadata": {"owner": "B"}}))

    b_paused = await pause_on_approval(b, "B-ship", "B-secret")
    assert (await resume(b))["done"] == "B-ship: done"
    # B's resumed run neither ended A's paused run nor touched A's state.
    assert await run_status(a, a_paused) == "paused"
    assert await ok(a.get(f"/threads/{THREAD}/state")) == a_state
    a_thread = await ok(a.get(f"/threads/{THREAD}"))
    assert a_thread["status"] == "interrupted" and "owner" not in a_thread["metadata"]
    assert {r["run_id"] for r in await thread_runs(a)} == {a_paused}
    assert b_paused not in {r["run_id"] for r in await thread_runs(a)}
    assert_nothing_of_a([await thread_runs(b), await history(b)])
    # The API shows each tenant its own thread id, never the saver's.
    b_state = await ok(b.get(f"/threads/{THREAD}/state"))
    assert b_state["checkpoint"]["thread_id"] == THREAD
    assert all(s["checkpoint"]["thread_id"] == THREAD for s in await history(b))

    # Deleting A's thread leaves B's.
    await ok(a.delete(f"/threads/{THREAD}"), 204)
    assert await run_status(a, a_paused) == "canceled"
    assert (await ok(b.get(f"/threads/{THREAD}/state")))["values"]["done"] == "B-ship: done"
    assert len(await history(b)) > 0


async def test_another_tenants_running_run_on_the_same_thread_id_neither_blocks_nor_leaks(
    make_client: MakeClient,
) -> None:
    a, b = await make_client(), await make_client()
    await create_thread(a)
    await create_thread(b)
    a_running = await start_counter(a, 1000)

    # A's run neither makes B's thread busy nor holds B's runs back in line.
    assert (await ok(b.get(f"/threads/{THREAD}")))["status"] == "idle"
    b_done = await ok(
        b.post(
            f"/threads/{THREAD}/runs/wait",
            json={"assistant_id": "counter", "input": {"count": 0, "sleep": 0}},
        )
    )
    assert b_done["count"] == 5
    assert await run_status(a, a_running) == "running"
    await until(lambda: run_status(a, a_running), lambda s: s == "succeeded")
    assert (await ok(a.get(f"/threads/{THREAD}/state")))["values"]["count"] == 1005
    assert (await ok(b.get(f"/threads/{THREAD}/state")))["values"]["count"] == 5
    assert (await ok(b.get(f"/threads/{THREAD}")))["values"]["count"] == 5
    (b_run,) = await thread_runs(b)
    assert {s["metadata"]["run_id"] for s in await history(b)} == {b_run["run_id"]}
    assert [r["run_id"] for r in await thread_runs(a)] == [a_running]
