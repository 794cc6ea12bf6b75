"""The main flow through the official sync client (``get_sync_client``): plain, blocking tests."""

import uuid
from typing import Any

import pytest
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError
from lgsdk import SLEEP, until_sync

TENANT = "sync"
ALL_STEPS = ["s1", "s2", "s3", "s4", "s5"]


def test_sync_assistants_get_search_and_versions(lg_sync: SyncLangGraphClient) -> None:
    echo = lg_sync.assistants.get("lg_echo")
    assert echo["graph_id"] == "lg_echo" and echo["name"] == "lg_echo"
    uuid.UUID(echo["assistant_id"])
    assert lg_sync.assistants.get(echo["assistant_id"])["assistant_id"] == echo["assistant_id"]

    found = lg_sync.assistants.search(graph_id="lg_echo")
    assert echo["assistant_id"] in {a["assistant_id"] for a in found}
    assert lg_sync.assistants.count(graph_id="lg_echo") >= 1

    made = lg_sync.assistants.create("chat", name="sync chat", metadata={"sync": True})
    changed = lg_sync.assistants.update(made["assistant_id"], name="sync chat 2")
    assert changed["version"] == 2
    versions = lg_sync.assistants.get_versions(made["assistant_id"])
    assert [v["version"] for v in versions] == [2, 1]
    graph = lg_sync.assistants.get_graph("chat")
    assert "answer" in {n["id"] for n in graph["nodes"]}
    lg_sync.assistants.delete(made["assistant_id"])
    with pytest.raises(NotFoundError):
        lg_sync.assistants.get(made["assistant_id"])


def test_sync_threads_create_get_state_update_history(lg_sync: SyncLangGraphClient) -> None:
    thread_id = str(uuid.uuid4())
    thread = lg_sync.threads.create(thread_id=thread_id, metadata={"who": "sync"})
    assert thread["thread_id"] == thread_id and thread["status"] == "idle"
    with pytest.raises(ConflictError):
        lg_sync.threads.create(thread_id=thread_id)

    assert lg_sync.runs.wait(thread_id, "lg_steps5", input={"steps": []}) == {"steps": ALL_STEPS}
    got = lg_sync.threads.get(thread_id)
    assert got["status"] == "idle" and got["metadata"]["who"] == "sync"
    state = lg_sync.threads.get_state(thread_id)
    assert state["values"] == {"steps": ALL_STEPS} and state["next"] == []

    lg_sync.threads.update_state(thread_id, {"steps": ["edit"]}, as_node="s5")
    assert lg_sync.threads.get_state(thread_id)["values"]["steps"][-1] == "edit"
    history = lg_sync.threads.get_history(thread_id, limit=3)
    assert len(history) == 3 and history[0]["values"]["steps"][-1] == "edit"

    updated = lg_sync.threads.update(thread_id, metadata={"more": 1})
    assert updated["metadata"]["who"] == "sync" and updated["metadata"]["more"] == 1
    assert [t["thread_id"] for t in lg_sync.threads.search(metadata={"who": "sync"})] == [thread_id]
    lg_sync.threads.delete(thread_id)
    with pytest.raises(NotFoundError):
        lg_sync.threads.get(thread_id)


def test_sync_runs_wait_stateless(lg_sync: SyncLangGraphClient) -> None:
    assert lg_sync.runs.wait(None, "lg_echo", input={"message": "sync"}) == {"message": "sync"}


def test_sync_runs_stream(lg_sync: SyncLangGraphClient) -> None:
    parts = list(
        lg_sync.runs.stream(
            None, "lg_steps5", input={"steps": []}, stream_mode=["values", "updates"]
        )
    )
    names = [p.event for p in parts if p.event != "end"]
    assert names[0] == "metadata" and parts[0].data["run_id"]
    assert set(names[1:]) == {"values", "updates"}
    assert [p.data for p in parts if p.event == "values"][-1] == {"steps": ALL_STEPS}

    chat = list(
        lg_sync.runs.stream(
            None,
            "chat",
            input={"messages": [{"role": "user", "content": "sync hi"}]},
            stream_mode="messages-tuple",
        )
    )
    message, _ = next(p.data for p in chat if p.event == "messages")
    assert message["content"] == "You said: sync hi"


def test_sync_runs_create_join_list_get(lg_sync: SyncLangGraphClient) -> None:
    thread = lg_sync.threads.create()
    tid = thread["thread_id"]
    run = lg_sync.runs.create(tid, "counter", input={"count": 0, "sleep": SLEEP / 4})
    assert run["status"] in ("pending", "running")
    busy = until_sync(lambda: lg_sync.threads.get(tid), lambda t: t["status"] == "busy", 5)
    assert busy["status"] == "busy"
    assert lg_sync.runs.join(tid, run["run_id"]) == {"count": 5, "sleep": SLEEP / 4}
    got = lg_sync.runs.get(tid, run["run_id"])
    assert got["status"] == "success"
    assert [r["run_id"] for r in lg_sync.runs.list(tid)] == [run["run_id"]]


def test_sync_interrupt_and_resume(lg_sync: SyncLangGraphClient) -> None:
    thread = lg_sync.threads.create()
    tid = thread["thread_id"]
    paused = lg_sync.runs.wait(tid, "approval", input={"action": "sync"})
    assert paused["__interrupt__"][0]["value"]["action"] == "sync"
    assert lg_sync.threads.get(tid)["status"] == "interrupted"
    done = lg_sync.runs.wait(tid, "approval", command={"resume": {"approved": True}})
    assert done["done"] == "sync: done"


def test_sync_cancel_a_busy_run(lg_sync: SyncLangGraphClient) -> None:
    thread = lg_sync.threads.create()
    tid = thread["thread_id"]
    run = lg_sync.runs.create(tid, "counter", input={"count": 0, "sleep": SLEEP})
    until_sync(lambda: lg_sync.runs.get(tid, run["run_id"]), lambda r: r["status"] == "running", 5)
    lg_sync.runs.cancel(tid, run["run_id"])
    stopped: dict[str, Any] = until_sync(
        lambda: lg_sync.runs.get(tid, run["run_id"]),
        lambda r: r["status"] == "interrupted",
        5,
    )
    assert stopped["status"] == "interrupted"


def test_sync_store_put_get_search_delete(lg_sync: SyncLangGraphClient) -> None:
    top = f"sync{uuid.uuid4().hex[:8]}"
    lg_sync.store.put_item((top, "a"), "k", {"v": 1})
    item = lg_sync.store.get_item((top, "a"), "k")
    assert item["value"] == {"v": 1} and item["namespace"] == [top, "a"]
    found = lg_sync.store.search_items((top,), filter={"v": 1})
    assert [i["key"] for i in found["items"]] == ["k"]
    assert lg_sync.store.list_namespaces(prefix=[top])["namespaces"] == [[top, "a"]]
    lg_sync.store.delete_item((top, "a"), "k")
    with pytest.raises(NotFoundError):
        lg_sync.store.get_item((top, "a"), "k")


def test_sync_crons_create_search_delete(lg_sync: SyncLangGraphClient) -> None:
    cron = lg_sync.crons.create("lg_echo", schedule="0 3 * * *", input={"message": "night"})
    try:
        assert cron["schedule"] == "0 3 * * *"
        assert cron["cron_id"] in {
            c["cron_id"] for c in lg_sync.crons.search(assistant_id="lg_echo")
        }
    finally:
        lg_sync.crons.delete(cron["cron_id"])
    assert cron["cron_id"] not in {
        c["cron_id"] for c in lg_sync.crons.search(assistant_id="lg_echo")
    }
