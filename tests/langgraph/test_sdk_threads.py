"""``client.threads``: create, read, change, search, copy, delete; state, history, status."""

import uuid

import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError
from lgsdk import SLEEP, new_id, until

TENANT = "threads"
ALL_STEPS = ["s1", "s2", "s3", "s4", "s5"]


async def steps_thread(lg: LangGraphClient, **metadata: object) -> str:
    """A thread on which lg_steps5 has run once."""
    thread = await lg.threads.create(metadata=dict(metadata))
    values = await lg.runs.wait(thread["thread_id"], "lg_steps5", input={"steps": []})
    assert values == {"steps": ALL_STEPS}
    return str(thread["thread_id"])


async def test_create_with_id_and_metadata_then_get_is_idle(lg: LangGraphClient) -> None:
    thread_id = new_id()
    created = await lg.threads.create(thread_id=thread_id, metadata={"owner": "ada"})
    assert created["thread_id"] == thread_id
    assert created["metadata"]["owner"] == "ada"
    assert created["status"] == "idle"
    assert created["created_at"] and created["updated_at"]

    got = await lg.threads.get(thread_id)
    assert got["thread_id"] == thread_id
    assert got["status"] == "idle"
    assert got["metadata"]["owner"] == "ada"
    assert not got["interrupts"]

    generated = await lg.threads.create()
    uuid.UUID(generated["thread_id"])
    assert generated["thread_id"] != thread_id


async def test_create_with_graph_id_records_it_in_metadata(lg: LangGraphClient) -> None:
    created = await lg.threads.create(graph_id="lg_echo", metadata={"x": 1})
    assert created["metadata"]["graph_id"] == "lg_echo"
    assert created["metadata"]["x"] == 1


async def test_create_an_existing_thread_raises_409_or_returns_it_with_do_nothing(
    lg: LangGraphClient,
) -> None:
    thread_id = new_id()
    await lg.threads.create(thread_id=thread_id, metadata={"v": 1})
    with pytest.raises(ConflictError) as err:
        await lg.threads.create(thread_id=thread_id)
    assert err.value.status_code == 409
    with pytest.raises(ConflictError):
        await lg.threads.create(thread_id=thread_id, if_exists="raise")

    same = await lg.threads.create(thread_id=thread_id, metadata={"v": 2}, if_exists="do_nothing")
    assert same["thread_id"] == thread_id
    assert same["metadata"]["v"] == 1


async def test_update_merges_metadata(lg: LangGraphClient) -> None:
    thread = await lg.threads.create(metadata={"a": 1, "b": 1})
    updated = await lg.threads.update(thread["thread_id"], metadata={"b": 2, "c": 3})
    assert updated["thread_id"] == thread["thread_id"]
    assert {k: updated["metadata"][k] for k in "abc"} == {"a": 1, "b": 2, "c": 3}
    got = await lg.threads.get(thread["thread_id"])
    assert {k: got["metadata"][k] for k in "abc"} == {"a": 1, "b": 2, "c": 3}


async def test_delete_then_get_is_404(lg: LangGraphClient) -> None:
    thread_id = await steps_thread(lg)
    await lg.threads.delete(thread_id)
    with pytest.raises(NotFoundError) as err:
        await lg.threads.get(thread_id)
    assert err.value.status_code == 404
    with pytest.raises(NotFoundError):
        await lg.threads.get_state(thread_id)
    with pytest.raises(NotFoundError):
        await lg.threads.delete(thread_id)


async def test_search_by_metadata_status_and_ids_and_count(lg: LangGraphClient) -> None:
    tag = uuid.uuid4().hex[:8]
    made = [(await lg.threads.create(metadata={"tag": tag, "i": i}))["thread_id"] for i in range(3)]

    found = await lg.threads.search(metadata={"tag": tag})
    assert {t["thread_id"] for t in found} == set(made)
    assert [t["thread_id"] for t in await lg.threads.search(metadata={"tag": tag, "i": 2})] == [
        made[2]
    ]
    by_ids = await lg.threads.search(ids=made[:2])
    assert {t["thread_id"] for t in by_ids} == set(made[:2])

    idle = await lg.threads.search(metadata={"tag": tag}, status="idle")
    assert {t["thread_id"] for t in idle} == set(made)
    assert await lg.threads.search(metadata={"tag": tag}, status="interrupted") == []

    page1 = await lg.threads.search(metadata={"tag": tag}, limit=2)
    page2 = await lg.threads.search(metadata={"tag": tag}, limit=2, offset=2)
    assert len(page1) == 2 and len(page2) == 1
    assert {t["thread_id"] for t in page1 + page2} == set(made)

    assert await lg.threads.count(metadata={"tag": tag}) == 3
    assert await lg.threads.count(metadata={"tag": tag}, status="idle") == 3
    assert await lg.threads.count(metadata={"tag": tag}, status="busy") == 0


async def test_state_after_a_run_has_values_checkpoint_and_no_next(lg: LangGraphClient) -> None:
    thread_id = await steps_thread(lg)
    state = await lg.threads.get_state(thread_id)
    assert state["values"] == {"steps": ALL_STEPS}
    assert state["next"] == []
    assert state["tasks"] == []
    assert state["checkpoint"]["thread_id"] == thread_id
    assert state["checkpoint"]["checkpoint_id"]
    assert state["parent_checkpoint"]["checkpoint_id"]
    assert state["metadata"]["step"] == 5

    thread = await lg.threads.get(thread_id)
    assert thread["status"] == "idle"
    assert thread["values"] == {"steps": ALL_STEPS}


async def test_history_is_newest_first_with_a_checkpoint_per_step(lg: LangGraphClient) -> None:
    thread_id = await steps_thread(lg)
    history = await lg.threads.get_history(thread_id, limit=20)
    assert [h["metadata"]["step"] for h in history] == [5, 4, 3, 2, 1, 0, -1]
    assert history[0]["values"] == {"steps": ALL_STEPS}
    assert history[3]["values"] == {"steps": ["s1", "s2"]}
    assert history[3]["next"] == ["s3"]
    for newer, older in zip(history, history[1:], strict=False):
        assert newer["parent_checkpoint"]["checkpoint_id"] == older["checkpoint"]["checkpoint_id"]

    assert [h["metadata"]["step"] for h in await lg.threads.get_history(thread_id, limit=2)] == [
        5,
        4,
    ]
    before = await lg.threads.get_history(thread_id, limit=2, before=history[1]["checkpoint"])
    assert [h["metadata"]["step"] for h in before] == [3, 2]


async def test_history_filters_by_metadata_and_refuses_keys_that_are_not_plain_names(
    lg: LangGraphClient,
) -> None:
    thread_id = await steps_thread(lg)
    steps = await lg.threads.get_history(thread_id, limit=20, metadata={"step": 3})
    assert [h["metadata"]["step"] for h in steps] == [3]
    for key in ("step') = 3 OR 1=1 --", "a b", "x;y", "$.step"):
        with pytest.raises(UnprocessableEntityError):
            await lg.threads.get_history(thread_id, limit=20, metadata={key: 1})
    assert len(await lg.threads.get_history(thread_id, limit=20)) == 7


async def test_get_state_at_a_checkpoint_id(lg: LangGraphClient) -> None:
    thread_id = await steps_thread(lg)
    history = await lg.threads.get_history(thread_id, limit=20)
    earlier = history[3]
    checkpoint_id = earlier["checkpoint"]["checkpoint_id"]

    by_id = await lg.threads.get_state(thread_id, checkpoint_id=checkpoint_id)
    assert by_id["values"] == {"steps": ["s1", "s2"]}
    assert by_id["checkpoint"]["checkpoint_id"] == checkpoint_id
    assert by_id["next"] == ["s3"]

    by_checkpoint = await lg.threads.get_state(thread_id, checkpoint=earlier["checkpoint"])
    assert by_checkpoint["values"] == {"steps": ["s1", "s2"]}
    assert by_checkpoint["checkpoint"]["checkpoint_id"] == checkpoint_id


async def test_update_state_as_a_node_is_reflected_in_state_and_history(
    lg: LangGraphClient,
) -> None:
    thread_id = await steps_thread(lg)
    answer = await lg.threads.update_state(thread_id, {"steps": ["manual"]}, as_node="s5")
    checkpoint_id = answer["checkpoint"]["checkpoint_id"]
    assert checkpoint_id

    state = await lg.threads.get_state(thread_id)
    assert state["values"] == {"steps": [*ALL_STEPS, "manual"]}
    assert state["checkpoint"]["checkpoint_id"] == checkpoint_id
    assert state["next"] == []
    assert state["metadata"]["source"] == "update"

    history = await lg.threads.get_history(thread_id, limit=1)
    assert history[0]["checkpoint"]["checkpoint_id"] == checkpoint_id
    assert (await lg.threads.get(thread_id))["values"] == {"steps": [*ALL_STEPS, "manual"]}

    # as s2: the graph would go on with s3
    await lg.threads.update_state(thread_id, {"steps": ["again"]}, as_node="s2")
    assert (await lg.threads.get_state(thread_id))["next"] == ["s3"]


async def test_copy_has_the_same_state_and_history(lg: LangGraphClient) -> None:
    thread_id = await steps_thread(lg, origin="copied")
    copy = await lg.threads.copy(thread_id)
    assert copy["thread_id"] != thread_id
    assert copy["metadata"]["origin"] == "copied"

    original_state = await lg.threads.get_state(thread_id)
    copied_state = await lg.threads.get_state(copy["thread_id"])
    assert copied_state["values"] == original_state["values"] == {"steps": ALL_STEPS}
    assert copied_state["next"] == original_state["next"]
    assert copied_state["checkpoint"]["thread_id"] == copy["thread_id"]

    original_history = await lg.threads.get_history(thread_id, limit=20)
    copied_history = await lg.threads.get_history(copy["thread_id"], limit=20)
    assert [h["values"] for h in copied_history] == [h["values"] for h in original_history]

    # the copy goes on by itself
    await lg.runs.wait(copy["thread_id"], "lg_steps5", input={"steps": []})
    assert (await lg.threads.get_state(thread_id))["values"] == {"steps": ALL_STEPS}
    assert (await lg.threads.get_state(copy["thread_id"]))["values"] == {"steps": ALL_STEPS * 2}


async def test_thread_is_busy_while_a_run_runs_then_idle(lg: LangGraphClient) -> None:
    tag = uuid.uuid4().hex[:8]
    thread = await lg.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    run = await lg.runs.create(thread_id, "counter", input={"count": 0, "sleep": SLEEP})

    busy = await until(lambda: lg.threads.get(thread_id), lambda t: t["status"] == "busy", 5)
    assert busy["status"] == "busy"
    assert [t["thread_id"] for t in await lg.threads.search(metadata={"tag": tag})] == [thread_id]
    assert [
        t["thread_id"] for t in await lg.threads.search(metadata={"tag": tag}, status="busy")
    ] == [thread_id]
    assert await lg.threads.count(metadata={"tag": tag}, status="busy") == 1

    final = await lg.runs.join(thread_id, run["run_id"])
    assert final["count"] == 5
    idle = await lg.threads.get(thread_id)
    assert idle["status"] == "idle"
    assert idle["values"]["count"] == 5
    assert await lg.threads.search(metadata={"tag": tag}, status="busy") == []


async def test_get_state_of_a_new_thread_is_empty(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    state = await lg.threads.get_state(thread["thread_id"])
    assert not state["values"]
    assert state["next"] == []
    assert await lg.threads.get_history(thread["thread_id"]) == []


async def test_unknown_thread_is_404_on_every_route(lg: LangGraphClient) -> None:
    missing = new_id()
    calls = [
        lg.threads.get(missing),
        lg.threads.update(missing, metadata={"a": 1}),
        lg.threads.delete(missing),
        lg.threads.copy(missing),
        lg.threads.get_state(missing),
        lg.threads.update_state(missing, {"message": "x"}),
        lg.threads.get_history(missing),
        lg.runs.list(missing),
    ]
    for call in calls:
        with pytest.raises(NotFoundError):
            await call


async def test_search_select_and_sort(lg: LangGraphClient) -> None:
    tag = uuid.uuid4().hex[:8]
    made = [(await lg.threads.create(metadata={"sel": tag}))["thread_id"] for _ in range(3)]
    selected = await lg.threads.search(metadata={"sel": tag}, select=["thread_id", "status"])
    assert len(selected) == 3
    assert all(set(t) == {"thread_id", "status"} for t in selected)
    oldest_first = await lg.threads.search(
        metadata={"sel": tag}, sort_by="created_at", sort_order="asc"
    )
    assert [t["thread_id"] for t in oldest_first] == made
    newest_first = await lg.threads.search(
        metadata={"sel": tag}, sort_by="created_at", sort_order="desc"
    )
    assert [t["thread_id"] for t in newest_first] == made[::-1]


async def test_search_by_values(lg: LangGraphClient) -> None:
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    marker = f"values-{uuid.uuid4().hex[:8]}"
    await lg.runs.wait(tid, "lg_echo", input={"message": marker})
    found = await lg.threads.search(values={"message": marker})
    assert [t["thread_id"] for t in found] == [tid]
    assert await lg.threads.count(values={"message": marker}) == 1


async def test_run_from_an_earlier_checkpoint_forks_the_thread(lg: LangGraphClient) -> None:
    thread_id = await steps_thread(lg)
    history = await lg.threads.get_history(thread_id, limit=20)
    after_s2 = history[3]["checkpoint"]["checkpoint_id"]

    values = await lg.runs.wait(thread_id, "lg_steps5", input=None, checkpoint_id=after_s2)
    assert values == {"steps": ALL_STEPS}  # s3..s5 ran again after s1, s2
    state = await lg.threads.get_state(thread_id)
    assert state["values"] == {"steps": ALL_STEPS}
    forked = await lg.threads.get_history(thread_id, limit=4)
    assert forked[-1]["parent_checkpoint"]["checkpoint_id"] == after_s2


async def test_update_state_at_an_earlier_checkpoint_then_run_on(lg: LangGraphClient) -> None:
    thread_id = await steps_thread(lg)
    history = await lg.threads.get_history(thread_id, limit=20)
    after_s2 = history[3]["checkpoint"]["checkpoint_id"]

    await lg.threads.update_state(
        thread_id, {"steps": ["edited"]}, as_node="s2", checkpoint_id=after_s2
    )
    state = await lg.threads.get_state(thread_id)
    assert state["values"] == {"steps": ["s1", "s2", "edited"]}
    assert state["next"] == ["s3"]
    assert state["parent_checkpoint"]["checkpoint_id"] == after_s2

    values = await lg.runs.wait(thread_id, "lg_steps5", input=None)
    assert values == {"steps": ["s1", "s2", "edited", "s3", "s4", "s5"]}
