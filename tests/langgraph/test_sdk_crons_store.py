"""``client.crons`` and ``client.store`` through the SDK; the scheduler; tenant isolation."""

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError
from lgsdk import runplane_api, until

from runplane.store.dialect import sync_url
from runplane.store.schema import crons as crons_table

TENANT = "crons"


def parse(ts: Any) -> datetime:
    return datetime.fromisoformat(str(ts).replace("Z", "+00:00"))


# -- crons -------------------------------------------------------------------------------


async def test_create_a_stateless_cron(lg: LangGraphClient) -> None:
    default_id = (await lg.assistants.get("lg_echo"))["assistant_id"]
    before = datetime.now(UTC)
    cron = await lg.crons.create(
        "lg_echo", schedule="* * * * *", input={"message": "tick"}, metadata={"k": "v"}
    )
    try:
        uuid.UUID(cron["cron_id"])
        assert cron["assistant_id"] == default_id
        assert cron["thread_id"] is None
        assert cron["schedule"] == "* * * * *"
        assert cron["enabled"] is True
        assert cron["metadata"] == {"k": "v"}
        assert cron["payload"]["input"] == {"message": "tick"}
        due = parse(cron["next_run_date"])
        assert before < due <= before + timedelta(seconds=61)
        assert due.second == 0
    finally:
        await lg.crons.delete(cron["cron_id"])


async def test_create_for_thread_search_count_update_delete(lg: LangGraphClient) -> None:
    assistant = await lg.assistants.create("lg_echo", name="cron target")
    aid = assistant["assistant_id"]
    thread = await lg.threads.create()
    tid = thread["thread_id"]

    stateless = await lg.crons.create(aid, schedule="0 * * * *", input={"message": "a"})
    on_thread = await lg.crons.create_for_thread(
        tid, aid, schedule="30 * * * *", input={"message": "b"}
    )
    assert on_thread["thread_id"] == tid and on_thread["assistant_id"] == aid
    assert stateless["thread_id"] is None

    found = await lg.crons.search(assistant_id=aid)
    assert {c["cron_id"] for c in found} == {stateless["cron_id"], on_thread["cron_id"]}
    by_thread = await lg.crons.search(thread_id=tid)
    assert [c["cron_id"] for c in by_thread] == [on_thread["cron_id"]]
    assert await lg.crons.count(assistant_id=aid) == 2
    assert await lg.crons.count(thread_id=tid) == 1
    assert len(await lg.crons.search(assistant_id=aid, limit=1)) == 1

    updated = await lg.crons.update(
        stateless["cron_id"], schedule="*/5 * * * *", input={"message": "changed"}
    )
    assert updated["cron_id"] == stateless["cron_id"]
    assert updated["schedule"] == "*/5 * * * *"
    assert updated["payload"]["input"] == {"message": "changed"}
    assert parse(updated["next_run_date"]).minute % 5 == 0

    disabled = await lg.crons.update(stateless["cron_id"], enabled=False)
    assert disabled["enabled"] is False
    assert [c["cron_id"] for c in await lg.crons.search(assistant_id=aid, enabled=False)] == [
        stateless["cron_id"]
    ]

    await lg.crons.delete(stateless["cron_id"])
    await lg.crons.delete(on_thread["cron_id"])
    assert await lg.crons.search(assistant_id=aid) == []
    assert await lg.crons.count(assistant_id=aid) == 0
    with pytest.raises(NotFoundError):
        await lg.crons.delete(stateless["cron_id"])


async def test_cron_for_an_unknown_assistant_or_thread_is_404(lg: LangGraphClient) -> None:
    with pytest.raises(NotFoundError):
        await lg.crons.create(str(uuid.uuid4()), schedule="* * * * *")
    with pytest.raises(NotFoundError):
        await lg.crons.create_for_thread(str(uuid.uuid4()), "lg_echo", schedule="* * * * *")


async def test_a_bad_schedule_is_refused(lg: LangGraphClient) -> None:
    with pytest.raises(Exception) as err:
        await lg.crons.create("lg_echo", schedule="every tuesday")
    status = err.value.response.status_code  # type: ignore[attr-defined]
    assert 400 <= status < 500, status


def make_due(database_url: str, *cron_ids: str) -> None:
    """Move crons' next run into the past, as if their time had come."""
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            conn.execute(
                crons_table.update()
                .where(crons_table.c.id.in_(cron_ids))
                .values(next_run_date=datetime.now(UTC) - timedelta(minutes=1))
            )
    finally:
        engine.dispose()


async def test_the_scheduler_starts_the_runs_of_due_crons(
    lg: LangGraphClient, live_server: Any, key: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    thread = await lg.threads.create()
    tid = thread["thread_id"]
    stateless = await lg.crons.create(
        "lg_echo", schedule="* * * * *", input={"message": f"stateless {tag}"}
    )
    on_thread = await lg.crons.create_for_thread(
        tid, "lg_echo", schedule="* * * * *", input={"message": f"thread {tag}"}
    )
    try:
        make_due(live_server.database_url, stateless["cron_id"], on_thread["cron_id"])
        started = time.monotonic()
        async with runplane_api(live_server.url, key) as api:

            async def scheduled() -> list[dict[str, Any]]:
                res = await api.get("/v1/runs", params={"trigger": "schedule", "limit": 100})
                assert res.status_code == 200, res.text
                return [
                    r
                    for r in res.json()["items"]
                    if r["agent_name"] == "lg_echo" and tag in str(r["input"])
                ]

            runs = await until(scheduled, lambda rs: len(rs) >= 2, 8)
        assert time.monotonic() - started < 8
        assert {r["input"]["message"] for r in runs} == {f"stateless {tag}", f"thread {tag}"}

        thread_runs = await until(lambda: lg.runs.list(tid), bool, 5)
        for run in thread_runs:  # one, or two if a minute turned meanwhile
            await lg.runs.join(tid, run["run_id"])
        assert (await lg.threads.get_state(tid))["values"] == {"message": f"thread {tag}"}

        # the cron's next time moved on to the schedule's next minute
        (again,) = [c for c in await lg.crons.search(thread_id=tid)]
        assert parse(again["next_run_date"]) > datetime.now(UTC)
    finally:
        await lg.crons.delete(stateless["cron_id"])
        await lg.crons.delete(on_thread["cron_id"])


# -- store -------------------------------------------------------------------------------


async def test_store_put_get_search_namespaces_delete(lg: LangGraphClient) -> None:
    top = f"ns{uuid.uuid4().hex[:8]}"
    await lg.store.put_item((top, "a"), "k", {"v": 1})
    await lg.store.put_item((top, "a"), "k2", {"v": 2})
    await lg.store.put_item((top, "b", "c"), "k3", {"v": 1, "w": "deep"})

    item = await lg.store.get_item((top, "a"), "k")
    assert item["namespace"] == [top, "a"]
    assert item["key"] == "k"
    assert item["value"] == {"v": 1}
    assert item["created_at"] and item["updated_at"]

    await lg.store.put_item((top, "a"), "k", {"v": 1, "again": True})
    assert (await lg.store.get_item((top, "a"), "k"))["value"] == {"v": 1, "again": True}

    found = await lg.store.search_items((top,), filter={"v": 1})
    assert {(tuple(i["namespace"]), i["key"]) for i in found["items"]} == {
        ((top, "a"), "k"),
        ((top, "b", "c"), "k3"),
    }
    everything = await lg.store.search_items((top,), limit=10)
    assert len(everything["items"]) == 3
    assert len((await lg.store.search_items((top,), limit=2))["items"]) == 2
    assert len((await lg.store.search_items((top, "a")))["items"]) == 2

    spaces = await lg.store.list_namespaces(prefix=[top])
    assert sorted(spaces["namespaces"]) == [[top, "a"], [top, "b", "c"]]
    shallow = await lg.store.list_namespaces(prefix=[top], max_depth=2)
    assert sorted(shallow["namespaces"]) == [[top, "a"], [top, "b"]]

    await lg.store.delete_item((top, "a"), "k")
    with pytest.raises(NotFoundError):
        await lg.store.get_item((top, "a"), "k")
    assert {i["key"] for i in (await lg.store.search_items((top,)))["items"]} == {"k2", "k3"}


async def test_another_tenant_sees_none_of_it(lg: LangGraphClient, other: LangGraphClient) -> None:
    tag = uuid.uuid4().hex[:8]
    top = f"iso{tag}"
    await lg.store.put_item((top,), "secret", {"v": 1})
    thread = await lg.threads.create(metadata={"tag": tag})
    tid = thread["thread_id"]
    run = await lg.runs.create(tid, "lg_echo", input={"message": "mine"})
    await lg.runs.join(tid, run["run_id"])
    assistant = await lg.assistants.create("lg_echo", metadata={"tag": tag})
    aid = assistant["assistant_id"]
    cron = await lg.crons.create(aid, schedule="0 0 * * *")

    try:
        with pytest.raises(NotFoundError):
            await other.store.get_item((top,), "secret")
        assert (await other.store.search_items((top,)))["items"] == []
        assert (await other.store.list_namespaces(prefix=[top]))["namespaces"] == []

        with pytest.raises(NotFoundError):
            await other.threads.get(tid)
        with pytest.raises(NotFoundError):
            await other.threads.get_state(tid)
        with pytest.raises(NotFoundError):
            await other.runs.get(tid, run["run_id"])
        assert await other.threads.search(metadata={"tag": tag}) == []
        assert await other.threads.search(ids=[tid]) == []

        with pytest.raises(NotFoundError):
            await other.assistants.get(aid)
        assert await other.assistants.search(metadata={"tag": tag}) == []
        mine = (await lg.assistants.get("lg_echo"))["assistant_id"]
        theirs = (await other.assistants.get("lg_echo"))["assistant_id"]
        assert mine != theirs

        assert await other.crons.search(assistant_id=aid) == []
        with pytest.raises(NotFoundError):
            await other.crons.delete(cron["cron_id"])
    finally:
        await lg.crons.delete(cron["cron_id"])
    # still there for their owner
    assert (await lg.store.get_item((top,), "secret"))["value"] == {"v": 1}
    assert (await lg.threads.get(tid))["thread_id"] == tid
