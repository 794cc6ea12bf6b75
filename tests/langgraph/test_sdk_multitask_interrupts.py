"""Multitask strategies on a busy thread, and human-in-the-loop interrupts, through the SDK."""

from datetime import datetime
from typing import Any

import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError
from lgsdk import SLEEP, collect, events, raises_status, until, wait_run_status

TENANT = "multitask"
ALL_STEPS = ["s1", "s2", "s3", "s4", "s5"]


async def busy_counter(lg: LangGraphClient) -> tuple[str, dict[str, Any]]:
    """A thread with a counter run in progress (about 5 x SLEEP s long)."""
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    run = await lg.runs.create(tid, "counter", input={"count": 0, "sleep": SLEEP})
    await wait_run_status(lg, tid, run["run_id"], "running", 5)
    return tid, run


def when(run: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(run["created_at"]).replace("Z", "+00:00"))


# -- multitask strategies ----------------------------------------------------------------


async def test_reject_refuses_a_second_run_with_409(lg: LangGraphClient) -> None:
    tid, first = await busy_counter(lg)
    with pytest.raises(ConflictError) as err:
        await lg.runs.create(tid, "counter", input={"count": 0}, multitask_strategy="reject")
    assert err.value.status_code == 409
    with raises_status(409):
        await lg.runs.wait(tid, "counter", input={"count": 0}, multitask_strategy="reject")
    with pytest.raises(ConflictError):
        await collect(
            lg.runs.stream(tid, "counter", input={"count": 0}, multitask_strategy="reject")
        )

    # the first run goes on, alone
    assert (await lg.runs.get(tid, first["run_id"]))["status"] == "running"
    assert [r["run_id"] for r in await lg.runs.list(tid)] == [first["run_id"]]
    await lg.runs.cancel(tid, first["run_id"], wait=True)


async def test_interrupt_stops_the_first_run_and_the_second_succeeds(lg: LangGraphClient) -> None:
    tid, first = await busy_counter(lg)
    second = await lg.runs.create(
        tid, "counter", input={"count": 0, "sleep": 0}, multitask_strategy="interrupt"
    )
    final = await lg.runs.join(tid, second["run_id"])
    assert (await lg.runs.get(tid, first["run_id"]))["status"] == "interrupted"
    assert (await lg.runs.get(tid, second["run_id"]))["status"] == "success"
    # the first run's finished nodes (fewer than 5) stay; the second adds its own 5
    assert 5 <= final["count"] < 10
    assert (await lg.threads.get(tid))["status"] == "idle"


async def test_rollback_deletes_the_first_run_and_the_second_succeeds(lg: LangGraphClient) -> None:
    tid, first = await busy_counter(lg)
    second = await lg.runs.create(
        tid, "counter", input={"count": 0, "sleep": 0}, multitask_strategy="rollback"
    )
    final = await lg.runs.join(tid, second["run_id"])
    assert final["count"] == 5  # nothing of the first run is left
    with pytest.raises(NotFoundError):
        await lg.runs.get(tid, first["run_id"])
    assert (await lg.runs.get(tid, second["run_id"]))["status"] == "success"
    assert [r["run_id"] for r in await lg.runs.list(tid)] == [second["run_id"]]
    history = await lg.threads.get_history(tid, limit=100)
    assert history and all(h["metadata"].get("run_id") != first["run_id"] for h in history)


async def test_enqueue_holds_the_second_run_pending_until_the_first_ends(
    lg: LangGraphClient,
) -> None:
    tid, first = await busy_counter(lg)
    # enqueue is the default strategy
    second = await lg.runs.create(tid, "counter", input={"count": 0, "sleep": 0})
    assert second["status"] == "pending"
    assert (await lg.runs.get(tid, second["run_id"]))["status"] == "pending"
    assert (await lg.runs.get(tid, first["run_id"]))["status"] == "running"
    assert (await lg.threads.get(tid))["status"] == "busy"

    final = await lg.runs.join(tid, second["run_id"])
    # 0 + 5 from the first run, then + 0 + 5 from the second
    assert final["count"] == 10
    first_done = await lg.runs.get(tid, first["run_id"])
    second_done = await lg.runs.get(tid, second["run_id"])
    assert first_done["status"] == second_done["status"] == "success"
    assert when(second_done) > when(first_done)
    assert [r["run_id"] for r in await lg.runs.list(tid)] == [second["run_id"], first["run_id"]]
    assert (await lg.threads.get(tid))["status"] == "idle"


async def test_cancelling_a_pending_run_ends_it_at_once(lg: LangGraphClient) -> None:
    tid, first = await busy_counter(lg)
    second = await lg.runs.create(tid, "counter", input={"count": 0, "sleep": 0})
    assert second["status"] == "pending"
    await lg.runs.cancel(tid, second["run_id"])
    # it never started, so there is nothing to wait for: LangGraph ends it there and then
    stopped = await wait_run_status(lg, tid, second["run_id"], "interrupted", 1)
    assert stopped["status"] == "interrupted"
    assert (await lg.runs.get(tid, first["run_id"]))["status"] == "running"
    final = await lg.runs.join(tid, first["run_id"])
    assert final["count"] == 5  # the cancelled run added nothing


async def test_enqueue_explicitly_with_wait(lg: LangGraphClient) -> None:
    tid, first = await busy_counter(lg)
    final = await lg.runs.wait(
        tid, "counter", input={"count": 0, "sleep": 0}, multitask_strategy="enqueue"
    )
    assert final["count"] == 10
    assert (await lg.runs.get(tid, first["run_id"]))["status"] == "success"


# -- interrupts (human in the loop) ------------------------------------------------------


async def test_interrupt_then_resume_with_a_command(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]

    paused = await lg.runs.wait(tid, "approval", input={"action": "pay"})
    assert paused["action"] == "pay"
    interrupts = paused["__interrupt__"]
    assert isinstance(interrupts, list) and len(interrupts) == 1
    assert interrupts[0]["value"] == {"question": "Approve this action?", "action": "pay"}
    interrupt_id = interrupts[0]["id"]
    assert interrupt_id

    (run,) = await lg.runs.list(tid)
    assert run["status"] == "interrupted"

    thread_now = await lg.threads.get(tid)
    assert thread_now["status"] == "interrupted"
    assert thread_now["interrupts"]
    (task_interrupts,) = thread_now["interrupts"].values()
    assert [i["id"] for i in task_interrupts] == [interrupt_id]
    assert task_interrupts[0]["value"]["action"] == "pay"

    state = await lg.threads.get_state(tid)
    assert state["next"] == ["ask"]
    assert state["values"] == {"action": "pay"}
    assert [i["id"] for i in state["interrupts"]] == [interrupt_id]
    assert state["tasks"][0]["name"] == "ask"
    assert [i["id"] for i in state["tasks"][0]["interrupts"]] == [interrupt_id]
    assert tid in {t["thread_id"] for t in await lg.threads.search(status="interrupted")}

    done = await lg.runs.wait(
        tid, "approval", command={"resume": {"approved": True, "comment": "fine"}}
    )
    assert done["done"] == "pay: done"
    assert done["approved"] is True and done["comment"] == "fine"
    assert "__interrupt__" not in done

    after = await lg.threads.get(tid)
    assert after["status"] == "idle"
    assert not after["interrupts"]
    assert after["values"]["done"] == "pay: done"
    runs = await lg.runs.list(tid)
    assert len(runs) == 2 and runs[0]["status"] == "success"
    assert (await lg.threads.get_state(tid))["next"] == []


async def test_an_interrupted_threads_values_are_its_state_values(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    await lg.runs.wait(tid, "approval", input={"action": "look"})
    thread_now = await lg.threads.get(tid)
    state = await lg.threads.get_state(tid)
    # a thread's values are its current state's values; interrupts are reported apart,
    # in ``interrupts`` (LangGraph keeps ``__interrupt__`` out of ``Thread.values``)
    assert thread_now["values"] == state["values"] == {"action": "look"}
    assert thread_now["interrupts"]


async def test_resume_with_a_bool_declines(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    await lg.runs.wait(tid, "approval", input={"action": "delete"})
    done = await lg.runs.wait(tid, "approval", command={"resume": False})
    assert done["done"] == "delete: skipped"


async def test_interrupt_and_resume_over_streams(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    parts = await collect(
        lg.runs.stream(tid, "approval", input={"action": "ship"}, stream_mode="values")
    )
    assert events(parts)[0] == "metadata"
    assert "error" not in events(parts)
    last = [p.data for p in parts if p.event == "values"][-1]
    assert last["__interrupt__"][0]["value"]["action"] == "ship"
    assert (await lg.threads.get(tid))["status"] == "interrupted"

    resumed = await collect(
        lg.runs.stream(
            tid, "approval", command={"resume": {"approved": True}}, stream_mode="updates"
        )
    )
    updates = [p.data for p in resumed if p.event == "updates"]
    assert {"act": {"done": "ship: done"}} in updates
    assert (await lg.threads.get(tid))["status"] == "idle"


async def test_background_run_that_interrupts_is_interrupted_and_join_gives_the_interrupt(
    lg: LangGraphClient,
) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    run = await lg.runs.create(tid, "approval", input={"action": "bg"})
    joined = await lg.runs.join(tid, run["run_id"])
    assert joined["__interrupt__"][0]["value"]["action"] == "bg"
    assert (await lg.runs.get(tid, run["run_id"]))["status"] == "interrupted"
    resumed = await lg.runs.create(tid, "approval", command={"resume": True})
    assert (await lg.runs.join(tid, resumed["run_id"]))["done"] == "bg: done"


async def test_interrupt_before_a_node_then_continue_with_no_input(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    paused = await lg.runs.wait(
        tid, "lg_echo", input={"message": "held"}, interrupt_before=["echo"]
    )
    assert paused["message"] == "held"
    (run,) = await lg.runs.list(tid)
    assert run["status"] == "interrupted"
    assert (await lg.threads.get(tid))["status"] == "interrupted"
    assert (await lg.threads.get_state(tid))["next"] == ["echo"]

    assert await lg.runs.wait(tid, "lg_echo", input=None) == {"message": "held"}
    assert (await lg.threads.get(tid))["status"] == "idle"
    state = await lg.threads.get_state(tid)
    assert state["next"] == [] and state["metadata"]["step"] == 1


async def test_interrupt_after_a_node_then_continue(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    paused = await lg.runs.wait(tid, "lg_steps5", input={"steps": []}, interrupt_after=["s2"])
    assert paused["steps"] == ["s1", "s2"]
    state = await lg.threads.get_state(tid)
    assert state["next"] == ["s3"]
    assert await lg.runs.wait(tid, "lg_steps5", input=None) == {"steps": ALL_STEPS}


async def test_command_with_update_and_goto_on_a_thread(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    await lg.runs.wait(tid, "lg_steps5", input={"steps": []})
    values = await lg.runs.wait(
        tid, "lg_steps5", command={"update": {"steps": ["x"]}, "goto": "s4"}
    )
    # as LangGraph does it: the update is applied, then s4 and s5 run
    assert values == {"steps": [*ALL_STEPS, "x", "s4", "s5"]}
    (latest, _) = await lg.runs.list(tid)
    assert latest["status"] == "success"


async def test_thread_status_goes_busy_interrupted_busy_idle(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    run = await lg.runs.create(
        tid, "counter", input={"count": 0, "sleep": SLEEP / 2}, interrupt_after=["add2"]
    )
    await until(lambda: lg.threads.get(tid), lambda t: t["status"] == "busy", 5)
    await lg.runs.join(tid, run["run_id"])
    assert (await lg.threads.get(tid))["status"] == "interrupted"
    assert (await lg.threads.get_state(tid))["values"]["count"] == 2

    carry_on = await lg.runs.create(tid, "counter", input=None)
    await until(lambda: lg.threads.get(tid), lambda t: t["status"] in ("busy", "idle"), 5)
    assert (await lg.runs.join(tid, carry_on["run_id"]))["count"] == 5
    assert (await lg.threads.get(tid))["status"] == "idle"
