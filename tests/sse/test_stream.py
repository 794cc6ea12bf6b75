"""``GET /v1/runs/{id}/stream`` over a real socket: live server-sent events, parsed by hand.

Each message must be ``id: <seq>``, ``event: <type>``, ``data: <event JSON>``; the stream
replays the log, follows it live, and is closed by the server after the terminal status.
"""

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from runplane.testing.server import create_key

TERMINAL = ("succeeded", "failed", "canceled")
# Well below the server's 15 s keep-alive: a stream the server forgets to close fails fast.
READ_TIMEOUT = 8.0
# "At once", with room for a loaded machine (the suite runs in parallel): a stream left
# open, or a cancel that waited for the 30 s step, would take READ_TIMEOUT or more.
PROMPTLY = READ_TIMEOUT / 2


@dataclass
class Message:
    """One server-sent event as it came over the wire."""

    id: str | None
    event: str | None
    data: dict[str, Any]
    arrived: float

    @property
    def terminal(self) -> bool:
        return self.event == "status" and self.data["data"].get("status") in TERMINAL


def sse_messages(response: httpx.Response) -> Iterator[Message]:
    """Parse ``text/event-stream`` lines into messages; comments are skipped."""
    fields: dict[str, list[str]] = {}
    for line in response.iter_lines():
        if line == "":
            if "data" in fields:
                yield Message(
                    id=fields.get("id", [None])[-1],
                    event=fields.get("event", [None])[-1],
                    data=json.loads("\n".join(fields["data"])),
                    arrived=time.monotonic(),
                )
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields.setdefault(name, []).append(value.removeprefix(" "))


@pytest.fixture(scope="module")
def api(live_server: Any) -> Iterator[httpx.Client]:
    """An admin client of a tenant of this module's own, on the session's live server."""
    key = create_key(live_server.database_url, tenant=f"sse-{uuid.uuid4().hex[:8]}")
    with httpx.Client(
        base_url=live_server.url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=httpx.Timeout(30, read=READ_TIMEOUT),
    ) as client:
        yield client


def create_run(api: httpx.Client, agent: str, input: object, **extra: Any) -> dict[str, Any]:
    r = api.post("/v1/runs", json={"agent_id": agent, "input": input, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def events_of(api: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    r = api.get(f"/v1/runs/{run_id}/events", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def assert_well_formed(messages: list[Message]) -> None:
    for m in messages:
        assert m.id == str(m.data["seq"]), m
        assert m.event == m.data["type"], m


def test_a_stream_is_live_numbered_and_closed_after_the_terminal_status(
    api: httpx.Client,
) -> None:
    run = create_run(api, "steps", {"steps": 3, "sleep": 0.2})
    messages: list[Message] = []
    with api.stream("GET", f"/v1/runs/{run['id']}/stream") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        for message in sse_messages(response):
            if not messages:
                # The first event is here while the run still has its steps to do.
                now = api.get(f"/v1/runs/{run['id']}").json()
                assert now["status"] not in TERMINAL, now
            messages.append(message)
        ended = time.monotonic()  # the server closed the body: iteration stopped by itself

    assert_well_formed(messages)
    seqs = [m.data["seq"] for m in messages]
    assert seqs == list(range(1, len(seqs) + 1))
    assert messages[-1].terminal and messages[-1].data["data"]["status"] == "succeeded"
    assert sum(m.terminal for m in messages) == 1
    # Three steps of 0.2 s each: the events were spread over the run, not sent in one go.
    assert messages[-1].arrived - messages[0].arrived >= 0.4
    assert ended - messages[-1].arrived < PROMPTLY
    started = [m.data["data"]["number"] for m in messages if m.event == "step.started"]
    assert started == [1, 2, 3]
    assert [m.data for m in messages] == events_of(api, run["id"])


def test_reconnecting_with_last_event_id_replays_only_later_events(api: httpx.Client) -> None:
    run = create_run(api, "steps", {"steps": 3, "sleep": 0.2})
    path = f"/v1/runs/{run['id']}/stream"
    first: list[Message] = []
    with api.stream("GET", path) as response:
        for message in sse_messages(response):
            first.append(message)
            if len(first) == 2:
                break  # drop the connection mid-run
    assert [m.data["seq"] for m in first] == [1, 2]
    assert not first[-1].terminal

    with api.stream("GET", path, headers={"Last-Event-ID": first[-1].id or ""}) as response:
        assert response.status_code == 200
        rest = list(sse_messages(response))
    assert_well_formed(rest)
    assert rest[0].data["seq"] == 3
    assert rest[-1].terminal and rest[-1].data["data"]["status"] == "succeeded"
    log = events_of(api, run["id"])
    assert [m.data for m in first + rest] == log

    # Resuming from the middle of an ended run: exactly the tail of the log.
    k = len(log) - 2
    with api.stream("GET", path, headers={"Last-Event-ID": str(k)}) as response:
        tail = list(sse_messages(response))
    assert [m.data for m in tail] == log[k:]


def test_a_malformed_last_event_id_is_a_422(api: httpx.Client) -> None:
    run = create_run(api, "echo", {}, wait=10)
    r = api.get(f"/v1/runs/{run['id']}/stream", headers={"Last-Event-ID": "abc"})
    assert r.status_code == 422
    assert r.json()["details"] == [{"name": "Last-Event-ID", "value": "abc"}]


def test_the_stream_of_an_ended_run_replays_everything_and_closes_at_once(
    api: httpx.Client,
) -> None:
    run = create_run(api, "steps", {"steps": 2}, wait=10)
    assert run["status"] == "succeeded"
    t0 = time.monotonic()
    with api.stream("GET", f"/v1/runs/{run['id']}/stream") as response:
        assert response.status_code == 200
        messages = list(sse_messages(response))
    assert time.monotonic() - t0 < PROMPTLY
    assert_well_formed(messages)
    assert [m.data for m in messages] == events_of(api, run["id"])
    assert messages[0].data["seq"] == 1 and messages[-1].terminal


def test_the_stream_of_an_unknown_run_is_a_404_in_the_error_model(api: httpx.Client) -> None:
    r = api.get("/v1/runs/run_doesnotexist/stream")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["status_code"] == 404
    assert "run_doesnotexist" in body["message"]
    assert body["details"] == [{"name": "run_id", "value": "run_doesnotexist"}]


def test_a_stream_without_a_key_is_a_401(api: httpx.Client, live_server: Any) -> None:
    run = create_run(api, "echo", {}, wait=10)
    with httpx.Client(base_url=live_server.url, timeout=10) as anonymous:
        r = anonymous.get(f"/v1/runs/{run['id']}/stream")
        bad = anonymous.get(
            f"/v1/runs/{run['id']}/stream", headers={"Authorization": "Bearer rp_not-a-key"}
        )
    for response in (r, bad):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        body = response.json()
        assert body["status_code"] == 401 and body["message"]


def test_canceling_a_running_run_ends_its_stream_with_canceled(api: httpx.Client) -> None:
    run = create_run(api, "steps", {"steps": 3, "sleep": 30})
    messages: list[Message] = []
    canceled_at = None
    with api.stream("GET", f"/v1/runs/{run['id']}/stream") as response:
        for message in sse_messages(response):
            messages.append(message)
            if message.event == "step.started" and canceled_at is None:
                canceled_at = time.monotonic()
                r = api.post(f"/v1/runs/{run['id']}/cancel")
                assert r.status_code == 202, r.text
    assert canceled_at is not None, [m.data for m in messages]
    last = messages[-1]
    assert last.terminal and last.data["data"]["status"] == "canceled"
    assert last.arrived - canceled_at < PROMPTLY
    assert_well_formed(messages)
    assert [m.data for m in messages] == events_of(api, run["id"])
    done = api.get(f"/v1/runs/{run['id']}").json()
    assert done["status"] == "canceled" and done["cancel_receipt"]["step"] == 1
