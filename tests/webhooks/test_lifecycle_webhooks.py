"""Lifecycle webhooks over HTTP: endpoints, the outbox, retries, 410, order, redelivery."""

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from runplane.domain.lifecycle import RunStatus
from runplane.schemas.webhooks import verify_webhook
from runplane.services.runtime import Runtime
from runplane.store import runs as runs_store
from runplane.store import webhook_deliveries as deliveries_store
from runplane.store.runs import Chain, Move
from runplane.store.schema import webhook_deliveries, webhook_endpoints
from runplane.testing.webhooks import WebhookReceiver

OWN_SECRET = "whsec_" + "c2VjcmV0LW9mLXRoaXMtZW5kcG9pbnQtb25seSE="


@pytest.fixture
def receiver(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    """A receiver the app may call, with retries quick enough for a test."""
    with WebhookReceiver() as r:
        monkeypatch.setattr(rt.settings, "outbound_allow", [r.allow_entry])
        monkeypatch.setattr(rt.settings, "webhook_backoff_max_seconds", 0.2)
        yield r


async def endpoint(api: httpx.AsyncClient, url: str, **extra: object) -> dict[str, Any]:
    r = await api.post("/v1/webhook-endpoints", json={"url": url, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def run(api: httpx.AsyncClient, agent: str = "echo", **extra: object) -> dict[str, Any]:
    body = {"agent_id": agent, "input": {}, "wait": 20, **extra}
    r = await api.post("/v1/runs", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def deliveries(api: httpx.AsyncClient, **params: object) -> list[dict[str, Any]]:
    r = await api.get("/v1/webhooks/deliveries", params={"limit": 100, **params})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def settled(
    api: httpx.AsyncClient, run_id: str, count: int, timeout: float = 20
) -> list[dict[str, Any]]:
    """The run's ``count`` deliveries once none is pending, oldest first."""
    deadline = time.monotonic() + timeout
    while True:
        found = await deliveries(api, run_id=run_id)
        if len(found) >= count and all(d["status"] != "pending" for d in found):
            return sorted(found, key=lambda d: (d["seq"], d["id"]))
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.1)


def ids_in_order(receiver: WebhookReceiver, run_id: str) -> list[str]:
    """Each webhook-id the receiver got for the run, once, in order of first arrival."""
    seen: list[str] = []
    for got in list(receiver.received):
        msg = got["headers"]["webhook-id"]
        if got["body"].get("run_id") == run_id and msg not in seen:
            seen.append(msg)
    return seen


async def test_each_move_of_a_run_reaches_a_subscribed_endpoint_signed_in_order(
    api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    secret = (await api.post("/v1/webhook-secret", json={})).json()["secret"]
    made = await endpoint(api, receiver.url, events=["*"])
    assert made["events"] == ["*"] and made["enabled"] and not made["own_secret"]
    done = await run(api)
    got = await settled(api, done["id"], 3)
    assert [d["event"] for d in got] == ["run.queued", "run.started", "run.succeeded"]
    assert all(d["status"] == "delivered" and d["endpoint_id"] == made["id"] for d in got)
    assert ids_in_order(receiver, done["id"]) == [d["id"] for d in got]
    for sent in receiver.received:
        body = verify_webhook(sent["raw"], sent["headers"], secret)
        assert body["run_id"] == done["id"] and body["agent_name"] == "echo"
    last = receiver.received[-1]["body"]
    assert last == {**last, "event": "run.succeeded", "status": "succeeded"}


async def test_an_endpoint_gets_only_its_events_signed_with_its_own_secret(
    api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    made = await endpoint(api, receiver.url, events=["run.succeeded"], secret=OWN_SECRET)
    assert made["own_secret"] and "secret" not in made
    done = await run(api)
    (got,) = await settled(api, done["id"], 1)
    assert got["event"] == "run.succeeded"
    (sent,) = receiver.received
    assert verify_webhook(sent["raw"], sent["headers"], OWN_SECRET)["status"] == "succeeded"


async def test_a_move_and_its_outbox_rows_commit_together_or_not_at_all(
    api: httpx.AsyncClient, rt: Runtime, receiver: WebhookReceiver
) -> None:
    await endpoint(api, receiver.url, events=["run.canceled"])
    paused = await run(api, "steps", input={"steps": 1}, approval="ON_START", wait=0)
    for _ in range(200):
        paused = (await api.get(f"/v1/runs/{paused['id']}")).json()
        if paused["status"] == "paused":
            break
        await asyncio.sleep(0.05)
    async with rt.db.read() as conn:
        row = await runs_store.get_run(conn, None, paused["id"])
    assert row is not None and row["status"] == "paused"
    rows = await rt.hooks.lifecycle(row, [(RunStatus.CANCELED, row["last_seq"] + 1)])
    assert [r["event"] for r in rows] == ["run.canceled"]

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with rt.db.write() as conn:
            chain = Chain(row["last_seq"], row["last_hash"])
            await runs_store.move_run(
                conn, row["id"], chain, "paused", after=Move(RunStatus.CANCELED)
            )
            await deliveries_store.insert_many(conn, rows)
            raise Abort  # the transaction rolls back: neither the move nor its row stays
    assert (await api.get(f"/v1/runs/{paused['id']}")).json()["status"] == "paused"
    assert await deliveries(api, run_id=paused["id"]) == []

    assert (await api.post(f"/v1/runs/{paused['id']}/cancel")).status_code in (200, 202)
    (got,) = await settled(api, paused["id"], 1)
    assert got["event"] == "run.canceled" and got["status"] == "delivered"


async def test_500s_are_retried_with_backoff_then_delivered_with_one_webhook_id(
    api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    receiver.answers = [500, 503]
    await endpoint(api, receiver.url, events=["run.succeeded"])
    done = await run(api)
    (got,) = await settled(api, done["id"], 1)
    assert got["status"] == "delivered" and got["attempt_count"] == 3
    detail = (await api.get(f"/v1/webhooks/deliveries/{got['id']}")).json()
    tries = detail["attempts"]
    assert [t["status_code"] for t in tries] == [500, 503, 200]
    assert all(t["latency_ms"] >= 0 and t["error"] is None for t in tries)
    assert {r["headers"]["webhook-id"] for r in receiver.received} == {got["id"]}
    assert len(receiver.received) == 3


async def test_410_stops_the_delivery_and_disables_the_endpoint(
    api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    receiver.answers = [410]
    made = await endpoint(api, receiver.url, events=["run.succeeded"])
    done = await run(api)
    (got,) = await settled(api, done["id"], 1)
    assert got["status"] == "failed" and got["attempt_count"] == 1
    assert got["last_status_code"] == 410
    now = (await api.get(f"/v1/webhook-endpoints/{made['id']}")).json()
    assert now["enabled"] is False and "410" in now["disabled_reason"]
    again = await run(api)
    await asyncio.sleep(0.3)
    assert await deliveries(api, run_id=again["id"]) == []
    assert len(receiver.received) == 1


async def test_a_later_event_waits_for_an_earlier_one_of_the_same_run(
    api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    receiver.answers = [500, 500]  # run.queued fails twice, while the rest are already due
    await endpoint(api, receiver.url, events=["*"])
    done = await run(api, "steps", input={"steps": 2})
    got = await settled(api, done["id"], 3)
    events = [r["body"]["event"] for r in receiver.received]
    assert events == ["run.queued"] * 3 + ["run.started", "run.succeeded"]
    assert [d["attempt_count"] for d in got] == [3, 1, 1]


async def test_a_delivery_is_redelivered_with_the_same_webhook_id(
    api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await endpoint(api, receiver.url, events=["run.succeeded"])
    done = await run(api)
    (got,) = await settled(api, done["id"], 1)
    r = await api.post(f"/v1/webhooks/deliveries/{got['id']}/redeliver")
    assert r.status_code == 200, r.text
    (again,) = await settled(api, done["id"], 1)
    for _ in range(100):
        if len(receiver.received) == 2:
            break
        await asyncio.sleep(0.05)
    assert [x["headers"]["webhook-id"] for x in receiver.received] == [got["id"]] * 2
    assert again["attempt_count"] == 2 and again["status"] == "delivered"
    assert (await api.post("/v1/webhooks/deliveries/msg_nope/redeliver")).status_code == 404


async def test_the_notify_webhook_goes_through_the_outbox_too(
    api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    done = await run(api, notify={"webhook": receiver.url})
    (got,) = await settled(api, done["id"], 1)
    assert got["endpoint_id"] is None and got["event"] == "run.finished"
    assert got["payload"]["status"] == "succeeded" and got["status"] == "delivered"
    mine = await deliveries(api, notify=True)
    assert [d["id"] for d in mine] == [got["id"]]
    assert receiver.received[0]["headers"]["webhook-id"] == got["id"]


async def test_endpoints_are_managed_by_admins_and_their_secrets_never_shown(
    api: httpx.AsyncClient, make_client: Any, rt: Runtime, receiver: WebhookReceiver
) -> None:
    r = await api.post("/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/hook"})
    assert r.status_code == 422 and r.json()["details"][0]["name"].endswith("url"), r.text
    r = await api.post("/v1/webhook-endpoints", json={"url": receiver.url, "events": ["run.nope"]})
    assert r.status_code == 422
    made = await endpoint(api, receiver.url, secret=OWN_SECRET, description="ops")
    listed = (await api.get("/v1/webhook-endpoints")).json()["items"]
    assert [e["id"] for e in listed] == [made["id"]]
    r = await api.patch(
        f"/v1/webhook-endpoints/{made['id']}", json={"enabled": False, "events": ["run.failed"]}
    )
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert r.json()["events"] == ["run.failed"]
    assert all(OWN_SECRET not in x.text for x in [r, await api.get("/v1/webhook-endpoints")])
    async with rt.db.read() as conn:
        stored = (await conn.execute(sa.select(webhook_endpoints))).mappings().all()
    assert stored and all(OWN_SECRET not in str(dict(row)) for row in stored)

    member = await make_client("member", tenant=None)
    for call in (
        member.get("/v1/webhook-endpoints"),
        member.post("/v1/webhook-endpoints", json={"url": receiver.url}),
        member.get("/v1/webhooks/deliveries"),
    ):
        assert (await call).status_code == 403
    other = await make_client()
    assert (await other.get(f"/v1/webhook-endpoints/{made['id']}")).status_code == 404
    assert (await api.delete(f"/v1/webhook-endpoints/{made['id']}")).status_code == 204
    assert (await api.get(f"/v1/webhook-endpoints/{made['id']}")).status_code == 404


async def test_a_tenant_without_endpoints_writes_no_row_and_reads_endpoints_once(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    asked: list[str] = []
    engine = sa.engine.Engine  # every engine: SQLite's reader and writer, or Postgres's

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "webhook_endpoints" in statement:
            asked.append(statement)

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        runs = [await run(api) for _ in range(3)]
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert len(asked) <= 1  # the first move loads the tenant's (no) endpoints; then memory
    async with rt.db.read() as conn:
        q = sa.select(webhook_deliveries).where(
            webhook_deliveries.c.run_id.in_([r["id"] for r in runs])
        )
        assert (await conn.execute(q)).first() is None
