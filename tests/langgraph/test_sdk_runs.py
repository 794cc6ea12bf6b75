"""``client.runs``: stateless and thread runs, streams, background runs, cancel, delete."""

import asyncio
import time
import uuid
from typing import Any

import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError
from lgsdk import (
    SLEEP,
    collect,
    events,
    new_id,
    raises_status,
    until,
    wait_run_status,
)

from runplane.testing.webhooks import WebhookReceiver

TENANT = "runs"
ALL_STEPS = ["s1", "s2", "s3", "s4", "s5"]
RUN_STATUSES = {"pending", "running", "error", "success", "timeout", "interrupted"}
# A node sleep for runs that are canceled: long enough that they can't end first.
LONG = 10 * SLEEP


def values_of(parts: list[Any]) -> list[Any]:
    return [p.data for p in parts if p.event == "values"]


# -- stateless ---------------------------------------------------------------------------


async def test_stateless_wait_returns_the_final_values(lg: LangGraphClient) -> None:
    assert await lg.runs.wait(None, "lg_echo", input={"message": "hi"}) == {"message": "hi"}
    assert await lg.runs.wait(None, "lg_steps5", input={"steps": []}) == {"steps": ALL_STEPS}
    assistant_id = (await lg.assistants.get("lg_echo"))["assistant_id"]
    assert await lg.runs.wait(None, assistant_id, input={"message": "by id"}) == {
        "message": "by id"
    }


async def test_stateless_stream_yields_metadata_first_then_values(lg: LangGraphClient) -> None:
    created: list[Any] = []
    parts = await collect(
        lg.runs.stream(None, "lg_echo", input={"message": "hi"}, on_run_created=created.append)
    )
    names = events(parts)
    assert names[0] == "metadata"
    run_id = parts[0].data["run_id"]
    assert run_id
    assert set(names[1:]) == {"values"}
    assert values_of(parts)[-1] == {"message": "hi"}
    # the SDK reads the run from the Content-Location header
    assert len(created) == 1 and created[0]["run_id"] == run_id


async def test_stream_updates_gives_one_event_per_node(lg: LangGraphClient) -> None:
    parts = await collect(
        lg.runs.stream(None, "lg_steps5", input={"steps": []}, stream_mode="updates")
    )
    names = events(parts)
    assert names[0] == "metadata"
    assert names[1:] == ["updates"] * 5
    assert [p.data for p in parts if p.event == "updates"] == [
        {f"s{i}": {"steps": [f"s{i}"]}} for i in range(1, 6)
    ]


async def test_stream_values_and_updates_together(lg: LangGraphClient) -> None:
    parts = await collect(
        lg.runs.stream(None, "lg_steps5", input={"steps": []}, stream_mode=["values", "updates"])
    )
    names = events(parts)
    assert names[0] == "metadata"
    assert set(names[1:]) == {"values", "updates"}
    assert names.count("updates") == 5
    assert values_of(parts)[-1] == {"steps": ALL_STEPS}


async def test_stream_messages_tuple_gives_message_and_metadata(lg: LangGraphClient) -> None:
    parts = await collect(
        lg.runs.stream(
            None,
            "chat",
            input={"messages": [{"role": "user", "content": "yo"}]},
            stream_mode="messages-tuple",
        )
    )
    names = events(parts)
    assert names[0] == "metadata"
    assert set(names[1:]) == {"messages"}
    message, metadata = next(p.data for p in parts if p.event == "messages")
    assert message["type"] == "ai"
    assert message["content"] == "You said: yo"
    assert metadata["langgraph_node"] == "answer"


async def test_stream_custom_and_debug_modes_are_named_as_asked(lg: LangGraphClient) -> None:
    custom = await collect(
        lg.runs.stream(None, "lg_echo", input={"message": "c"}, stream_mode="custom")
    )
    assert events(custom)[0] == "metadata"
    assert set(events(custom)[1:]) <= {"custom"}

    debug = await collect(
        lg.runs.stream(None, "lg_steps5", input={"steps": []}, stream_mode="debug")
    )
    names = events(debug)
    assert names[0] == "metadata"
    assert len(names) > 1 and set(names[1:]) == {"debug"}
    types = {p.data["type"] for p in debug if p.event == "debug"}
    assert {"checkpoint", "task", "task_result"} <= types

    both = await collect(
        lg.runs.stream(
            None, "lg_echo", input={"message": "d"}, stream_mode=["debug", "custom", "values"]
        )
    )
    assert set(events(both)[1:]) <= {"debug", "custom", "values"}
    assert "error" not in events(both)


async def test_stream_messages_gives_metadata_then_the_complete_message(
    lg: LangGraphClient,
) -> None:
    parts = await collect(
        lg.runs.stream(
            None,
            "chat",
            input={"messages": [{"role": "user", "content": "whole"}]},
            stream_mode="messages",
        )
    )
    names = events(parts)
    assert names[0] == "metadata"
    assert set(names[1:]) <= {"messages/metadata", "messages/partial", "messages/complete"}
    assert names.index("messages/metadata") < names.index("messages/complete")
    (message,) = [p.data for p in parts if p.event == "messages/complete"][-1]
    assert message["type"] == "ai" and message["content"] == "You said: whole"


async def test_stream_tasks_checkpoints_and_events_modes(lg: LangGraphClient) -> None:
    for mode in ("tasks", "checkpoints", "events"):
        parts = await collect(
            lg.runs.stream(None, "lg_echo", input={"message": mode}, stream_mode=mode)
        )
        names = events(parts)
        assert names[0] == "metadata", mode
        assert len(names) > 1 and set(names[1:]) == {mode}, (mode, names)


async def test_stream_subgraphs_is_accepted(lg: LangGraphClient) -> None:
    parts = await collect(
        lg.runs.stream(
            None,
            "lg_steps5",
            input={"steps": []},
            stream_mode=["values", "updates"],
            stream_subgraphs=True,
        )
    )
    assert events(parts)[0] == "metadata"
    assert "error" not in events(parts)
    assert values_of(parts)[-1] == {"steps": ALL_STEPS}


async def test_stateless_background_run_and_join(lg: LangGraphClient) -> None:
    run = await lg.runs.create(None, "lg_echo", input={"message": "bg"})
    assert run["run_id"] and run["thread_id"]
    assert run["status"] in ("pending", "running", "success")
    assert await lg.runs.join(run["thread_id"], run["run_id"]) == {"message": "bg"}
    done = await lg.runs.get(run["thread_id"], run["run_id"])
    assert done["status"] == "success"


async def test_create_batch_starts_every_run(lg: LangGraphClient) -> None:
    payloads: list[Any] = [
        {"assistant_id": "lg_echo", "input": {"message": f"batch {i}"}} for i in range(3)
    ]
    runs = await lg.runs.create_batch(payloads)
    assert len(runs) == 3
    assert len({r["run_id"] for r in runs}) == 3
    for i, run in enumerate(runs):
        assert await lg.runs.join(run["thread_id"], run["run_id"]) == {"message": f"batch {i}"}


async def test_on_completion_keep_keeps_the_thread_of_a_stateless_run(
    lg: LangGraphClient,
) -> None:
    kept = await lg.runs.create(None, "lg_echo", input={"message": "keep"}, on_completion="keep")
    await lg.runs.join(kept["thread_id"], kept["run_id"])
    thread = await lg.threads.get(kept["thread_id"])
    assert thread["thread_id"] == kept["thread_id"]
    assert thread["values"] == {"message": "keep"}
    assert (await lg.threads.get_state(kept["thread_id"]))["values"] == {"message": "keep"}


async def test_a_stateless_run_deletes_its_thread_by_default(lg: LangGraphClient) -> None:
    run = await lg.runs.create(None, "lg_echo", input={"message": "gone"})
    await lg.runs.join(run["thread_id"], run["run_id"])
    with pytest.raises(NotFoundError):
        await lg.threads.get(run["thread_id"])


# -- on a thread -------------------------------------------------------------------------


async def test_thread_background_run_and_join_then_get(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    run = await lg.runs.create(
        tid,
        "lg_steps5",
        input={"steps": []},
        metadata={"purpose": "join"},
    )
    assert run["thread_id"] == tid
    assert run["status"] in RUN_STATUSES
    assert run["metadata"]["purpose"] == "join"
    assert await lg.runs.join(tid, run["run_id"]) == {"steps": ALL_STEPS}

    got = await lg.runs.get(tid, run["run_id"])
    assert got["run_id"] == run["run_id"] and got["thread_id"] == tid
    assert got["assistant_id"] == (await lg.assistants.get("lg_steps5"))["assistant_id"]
    assert got["status"] == "success"
    assert got["metadata"]["purpose"] == "join"
    assert got["multitask_strategy"] in ("reject", "interrupt", "rollback", "enqueue")
    assert got["created_at"] and got["updated_at"]


async def test_wait_on_a_thread_accumulates_state(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    assert await lg.runs.wait(tid, "lg_steps5", input={"steps": []}) == {"steps": ALL_STEPS}
    assert await lg.runs.wait(tid, "lg_steps5", input={"steps": ["x"]}) == {
        "steps": [*ALL_STEPS, "x", *ALL_STEPS]
    }
    assert (await lg.threads.get_state(tid))["values"]["steps"][-1] == "s5"


async def test_stream_on_a_thread_reports_the_run_and_updates_the_thread(
    lg: LangGraphClient,
) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    created: list[Any] = []
    parts = await collect(
        lg.runs.stream(
            tid,
            "lg_steps5",
            input={"steps": []},
            stream_mode=["values", "updates"],
            on_run_created=created.append,
        )
    )
    assert events(parts)[0] == "metadata"
    run_id = parts[0].data["run_id"]
    assert created and created[0]["run_id"] == run_id and created[0]["thread_id"] == tid
    assert values_of(parts)[-1] == {"steps": ALL_STEPS}
    assert (await lg.runs.get(tid, run_id))["status"] == "success"
    assert (await lg.threads.get(tid))["values"] == {"steps": ALL_STEPS}


async def test_list_runs_newest_first_with_status_filter(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    first = await lg.runs.create(tid, "lg_echo", input={"message": "1"})
    await lg.runs.join(tid, first["run_id"])
    second = await lg.runs.create(tid, "lg_echo", input={"message": "2"})
    await lg.runs.join(tid, second["run_id"])

    runs = await lg.runs.list(tid)
    assert [r["run_id"] for r in runs] == [second["run_id"], first["run_id"]]
    assert [r["status"] for r in runs] == ["success", "success"]
    assert all(r["thread_id"] == tid for r in runs)
    assert [r["run_id"] for r in await lg.runs.list(tid, limit=1)] == [second["run_id"]]
    assert [r["run_id"] for r in await lg.runs.list(tid, limit=1, offset=1)] == [first["run_id"]]
    assert len(await lg.runs.list(tid, status="success")) == 2
    assert await lg.runs.list(tid, status="pending") == []


async def test_if_not_exists_create_makes_the_thread_and_reject_is_404(
    lg: LangGraphClient,
) -> None:
    tid = new_id()
    with raises_status(404):
        await lg.runs.wait(tid, "lg_echo", input={"message": "no"})
    with pytest.raises(NotFoundError):
        await lg.runs.create(tid, "lg_echo", input={"message": "no"}, if_not_exists="reject")
    with pytest.raises(NotFoundError):
        await lg.threads.get(tid)

    values = await lg.runs.wait(tid, "lg_echo", input={"message": "yes"}, if_not_exists="create")
    assert values == {"message": "yes"}
    thread = await lg.threads.get(tid)
    assert thread["thread_id"] == tid and thread["values"] == {"message": "yes"}


async def test_metadata_config_and_context_are_accepted_and_kept(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    run = await lg.runs.create(
        tid,
        "lg_echo",
        input={"message": "cfg"},
        metadata={"source": "test", "n": 1},
        config={"configurable": {"flavour": "plain"}, "tags": ["t1"]},
        context={"user": "ada"},
    )
    assert await lg.runs.join(tid, run["run_id"]) == {"message": "cfg"}
    got = await lg.runs.get(tid, run["run_id"])
    assert got["metadata"]["source"] == "test" and got["metadata"]["n"] == 1
    assert got["status"] == "success"
    assert await lg.runs.wait(
        None,
        "lg_echo",
        input={"message": "ctx"},
        config={"configurable": {"flavour": "x"}},
        context={"user": "bob"},
        metadata={"m": True},
    ) == {"message": "ctx"}


async def test_cancel_interrupt_stops_a_busy_run(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    # Nodes of LONG s: the run would take 5 x LONG s, so stopping well before that is
    # told apart from running to the end even on a loaded machine.
    run = await lg.runs.create(tid, "counter", input={"count": 0, "sleep": LONG})
    await wait_run_status(lg, tid, run["run_id"], "running", 5)
    started = time.monotonic()
    await lg.runs.cancel(tid, run["run_id"], action="interrupt")
    stopped = await wait_run_status(lg, tid, run["run_id"], "interrupted", 5)
    assert stopped["status"] == "interrupted"
    assert time.monotonic() - started < 2 * LONG  # it stopped inside a node, not at the end
    thread_now = await until(lambda: lg.threads.get(tid), lambda t: t["status"] != "busy", 5)
    assert thread_now["status"] == "idle"
    assert (await lg.threads.get_state(tid))["values"].get("count", 0) < 5


async def test_cancel_many_by_thread_by_run_ids_and_by_status(lg: LangGraphClient) -> None:
    tid_a = (await lg.threads.create())["thread_id"]
    tid_b = (await lg.threads.create())["thread_id"]
    run_a = await lg.runs.create(tid_a, "counter", input={"count": 0, "sleep": LONG})
    run_b = await lg.runs.create(tid_b, "counter", input={"count": 0, "sleep": LONG})
    queued_b = await lg.runs.create(tid_b, "counter", input={"count": 0, "sleep": 0})
    await wait_run_status(lg, tid_a, run_a["run_id"], "running", 5)
    await wait_run_status(lg, tid_b, run_b["run_id"], "running", 5)
    assert (await lg.runs.get(tid_b, queued_b["run_id"]))["status"] == "pending"

    await lg.runs.cancel_many(status="pending")
    # a pending run ends at once (run_b, still going, is what it would otherwise wait for);
    # the running ones go on
    await wait_run_status(lg, tid_b, queued_b["run_id"], "interrupted", 5)
    assert (await lg.runs.get(tid_b, run_b["run_id"]))["status"] == "running"

    await lg.runs.cancel_many(thread_id=tid_a)
    await lg.runs.cancel_many(run_ids=[run_b["run_id"]])
    await wait_run_status(lg, tid_a, run_a["run_id"], "interrupted", 5)
    await wait_run_status(lg, tid_b, run_b["run_id"], "interrupted", 5)


async def test_a_stream_closed_early_with_on_disconnect_cancel_cancels_the_run(
    lg: LangGraphClient,
) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    stream = lg.runs.stream(
        tid, "counter", input={"count": 0, "sleep": SLEEP}, on_disconnect="cancel"
    )
    first = await stream.__anext__()
    assert first.event == "metadata"
    run_id = first.data["run_id"]
    await stream.aclose()  # type: ignore[attr-defined]
    await wait_run_status(lg, tid, run_id, "interrupted", 5)


async def test_after_seconds_delays_the_start(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    started = time.monotonic()
    run = await lg.runs.create(tid, "lg_echo", input={"message": "later"}, after_seconds=1)
    assert (await lg.runs.get(tid, run["run_id"]))["status"] == "pending"
    assert await lg.runs.join(tid, run["run_id"]) == {"message": "later"}
    assert time.monotonic() - started >= 1.0


async def test_durability_modes_are_accepted(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    for durability in ("sync", "async", "exit"):
        values = await lg.runs.wait(
            tid, "lg_echo", input={"message": durability}, durability=durability
        )
        assert values == {"message": durability}


async def test_cancel_with_wait_returns_when_the_run_has_stopped(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    run = await lg.runs.create(tid, "counter", input={"count": 0, "sleep": SLEEP})
    await wait_run_status(lg, tid, run["run_id"], "running", 5)
    await lg.runs.cancel(tid, run["run_id"], wait=True)
    assert (await lg.runs.get(tid, run["run_id"]))["status"] == "interrupted"


async def test_cancel_rollback_deletes_the_run_and_its_checkpoints(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    before = await lg.runs.wait(tid, "counter", input={"count": 0})
    assert before["count"] == 5
    run = await lg.runs.create(tid, "counter", input={"count": 0, "sleep": SLEEP})
    await wait_run_status(lg, tid, run["run_id"], "running", 5)
    await asyncio.sleep(SLEEP * 1.5)  # let it write a checkpoint or two
    await lg.runs.cancel(tid, run["run_id"], action="rollback")

    async def gone() -> bool:
        try:
            await lg.runs.get(tid, run["run_id"])
        except NotFoundError:
            return True
        return False

    await until(gone, bool, 10)
    await until(lambda: lg.threads.get(tid), lambda t: t["status"] == "idle", 5)
    state = await lg.threads.get_state(tid)
    assert state["values"]["count"] == 5
    history = await lg.threads.get_history(tid, limit=100)
    assert all(h["metadata"].get("run_id") != run["run_id"] for h in history)
    remaining = [r["run_id"] for r in await lg.runs.list(tid)]
    assert len(remaining) == 1 and run["run_id"] not in remaining  # the first run stays


async def test_join_stream_follows_a_running_run_to_its_end(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    run = await lg.runs.create(
        tid, "counter", input={"count": 0, "sleep": SLEEP / 2}, stream_mode=["values"]
    )
    parts = await collect(lg.runs.join_stream(tid, run["run_id"]))
    assert "error" not in events(parts)
    values = values_of(parts)
    assert values and values[-1]["count"] == 5
    assert (await lg.runs.get(tid, run["run_id"]))["status"] == "success"


async def test_delete_an_ended_run_then_get_is_404(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    run = await lg.runs.create(tid, "lg_echo", input={"message": "del"})
    await lg.runs.join(tid, run["run_id"])
    await lg.runs.delete(tid, run["run_id"])
    with pytest.raises(NotFoundError):
        await lg.runs.get(tid, run["run_id"])
    assert await lg.runs.list(tid) == []
    with pytest.raises(NotFoundError):
        await lg.runs.delete(tid, run["run_id"])


async def test_run_of_another_thread_is_404(lg: LangGraphClient) -> None:
    a = (await lg.threads.create())["thread_id"]
    b = (await lg.threads.create())["thread_id"]
    run = await lg.runs.create(a, "lg_echo", input={"message": "a"})
    await lg.runs.join(a, run["run_id"])
    with pytest.raises(NotFoundError):
        await lg.runs.get(b, run["run_id"])
    with pytest.raises(NotFoundError):
        await lg.runs.get(a, "run_" + uuid.uuid4().hex)


async def test_webhook_is_called_when_the_run_ends(
    lg: LangGraphClient, webhook_receiver: WebhookReceiver
) -> None:
    # The receiver the live server is allowed to call; a path of this test's own.
    path = f"/hook/{uuid.uuid4().hex}"
    url = f"http://{webhook_receiver.allow_entry}{path}"

    async def mine() -> list[dict[str, Any]]:
        return [r for r in webhook_receiver.received if r["path"] == path]

    thread = await lg.threads.create()
    tid = thread["thread_id"]
    run = await lg.runs.create(tid, "lg_echo", input={"message": "hook"}, webhook=url)
    await lg.runs.join(tid, run["run_id"])
    await until(mine, bool, 5)
    stateless = await lg.runs.wait(None, "lg_echo", input={"message": "h2"}, webhook=url)
    assert stateless == {"message": "h2"}
    await until(mine, lambda r: len(r) >= 2, 5)

    first = next(r for r in await mine() if r["body"].get("run_id") == run["run_id"])
    assert first["body"]["event"] == "run.finished"
    assert first["body"]["status"] == "succeeded"
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= first["headers"].keys()
