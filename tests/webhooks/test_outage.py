"""A receiver that is down, and a server killed meanwhile: every event arrives afterwards.

The minute of the issue is shortened to ten seconds, and the retry backoff capped at one
second (``RUNPLANE_WEBHOOK_BACKOFF_MAX_SECONDS``), so that the test stays short.
"""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from runplane.testing.server import LiveServer, create_key, free_port
from runplane.testing.webhooks import WebhookReceiver

DOWN_SECONDS = 10.0
RUNS = 6


def wait_for(what: Callable[[], Any], timeout: float, message: str) -> Any:
    """Poll ``what`` until it answers something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = what()
        if found:
            return found
        assert time.monotonic() < deadline, message
        time.sleep(0.2)


def all_deliveries(api: httpx.Client) -> list[dict[str, Any]]:
    """Every delivery of the tenant (they fit in one page here)."""
    r = api.get("/v1/webhooks/deliveries", params={"limit": 100})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


# Two server starts, ten seconds down and the retries: over a minute on a loaded machine.
@pytest.mark.timeout(180)
def test_a_receiver_down_for_a_while_gets_every_event_in_order_once_even_across_a_kill(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str]
) -> None:
    url = new_database("outage")
    port = free_port()
    hook = f"http://127.0.0.1:{port}/hook"
    env = {
        "RUNPLANE_OUTBOUND_ALLOW": f"127.0.0.1:{port}",
        "RUNPLANE_WEBHOOK_BACKOFF_MAX_SECONDS": "1",
        "RUNPLANE_WEBHOOK_POLL_SECONDS": "0.5",
        "RUNPLANE_DB_CONNECTIONS": "8",
    }
    with ThreadPoolExecutor() as pool:
        key = pool.submit(create_key, url, tenant="outage")
        server = start_server(database_url=url, env=env)
    headers = {"Authorization": f"Bearer {key.result()}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as api:
        r = api.post("/v1/webhook-endpoints", json={"url": hook, "events": ["*"]})
        assert r.status_code == 201, r.text
        down_since = time.monotonic()  # nothing listens on the port yet
        run_ids = []
        for i in range(RUNS):
            body = {"agent_id": "steps", "input": {"steps": 2}, "notify": {"webhook": hook}}
            r = api.post("/v1/runs", json={**body, "name": f"outage-{i}"})
            assert r.status_code == 201, r.text
            run_ids.append(r.json()["id"])
        for run_id in run_ids:
            done = api.get(f"/v1/runs/{run_id}", params={"wait": 20}).json()
            assert done["status"] == "succeeded", done
        expected = RUNS * 4  # queued, started, succeeded to the endpoint; run.finished to notify
        wait_for(
            lambda: [d for d in all_deliveries(api) if d["attempt_count"] >= 1],
            20,
            "no delivery was tried while the receiver was down",
        )
        pending = all_deliveries(api)
        assert len(pending) == expected and all(d["status"] == "pending" for d in pending)

        server.kill()  # SIGKILL with every delivery pending
        server.start()
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down_since)))

        with WebhookReceiver(port=port) as receiver:
            wait_for(
                lambda: all(d["status"] == "delivered" for d in all_deliveries(api)),
                30,
                f"not every delivery was delivered:\n{server.log_tail()}",
            )
            time.sleep(0.5)  # anything sent twice would have arrived by now
        got = list(receiver.received)
        sent = all_deliveries(api)

    ids = [g["headers"]["webhook-id"] for g in got]
    assert len(ids) == len(set(ids)) == expected, "each webhook-id arrives exactly once"
    assert set(ids) == {d["id"] for d in sent}
    retried = [d for d in sent if d["attempt_count"] > 1]
    assert retried, "the outage made no delivery try again"
    for run_id in run_ids:
        mine = [d for d in sent if d["run_id"] == run_id and d["endpoint_id"] is not None]
        in_order = [d["id"] for d in sorted(mine, key=lambda d: d["seq"])]
        arrived = [i for i, g in zip(ids, got, strict=True) if g["body"]["run_id"] == run_id]
        assert [i for i in arrived if i in in_order] == in_order
        events = [g["body"]["event"] for g in got if g["body"]["run_id"] == run_id]
        endpoint_events = [e for e in events if e != "run.finished"]
        assert endpoint_events == ["run.queued", "run.started", "run.succeeded"]
        assert events.count("run.finished") == 1
