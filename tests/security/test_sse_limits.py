"""Event streams are capped: a key holds a few at once (429 with Retry-After beyond), and
each ends after a time limit; a client resuming with Last-Event-ID gets every event once."""

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runplane.admin import create_api_key
from runplane.settings import Settings
from runplane.testing.server import LiveServer

pytestmark = pytest.mark.timeout(240)  # a server of its own to start

MAX_PER_KEY = 2
MAX_SECONDS = 1.0


def _key(database_url: str, tenant: str) -> str:
    """An admin key of a new tenant, made in this process (a child would import slowly)."""
    return create_api_key(Settings(database_url=database_url), tenant=tenant)


@pytest.fixture(scope="module")
def server(
    new_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server whose streams are capped low: two per key, one second each."""
    env = {
        "RUNPLANE_SSE_MAX_PER_KEY": str(MAX_PER_KEY),
        "RUNPLANE_SSE_MAX_SECONDS": str(MAX_SECONDS),
    }
    live = LiveServer(
        new_database("sse"),
        cwd=tmp_path_factory.mktemp("sse"),
        project=Path(__file__).resolve().parents[2] / "runplane.toml",
        env=env,
    )
    live.start(timeout=120)  # a loaded machine starts slowly
    yield live
    live.stop()


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    """A client of a new tenant on that server."""
    key = _key(server.database_url, f"sse-{time.monotonic_ns()}")
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as client:
        yield client


def _run(api: httpx.Client, input: object) -> dict[str, Any]:
    r = api.post("/v1/runs", json={"agent_id": "steps", "input": input})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _read(response: httpx.Response) -> list[tuple[int, str]]:
    """The ``(id, event)`` of every message until the stream ends."""
    messages: list[tuple[int, str]] = []
    seq, kind = None, None
    for line in response.iter_lines():
        if line.startswith("id: "):
            seq = int(line[4:])
        elif line.startswith("event: "):
            kind = line[7:]
        elif line == "" and seq is not None and kind is not None:
            messages.append((seq, kind))
            seq, kind = None, None
    return messages


def test_a_key_over_its_stream_cap_gets_429_with_retry_after_until_one_closes(
    api: httpx.Client,
) -> None:
    run = _run(api, {"steps": 1, "sleep": 30})
    url = f"/v1/runs/{run['id']}/stream"
    try:
        with api.stream("GET", url) as one, api.stream("GET", url) as two:
            assert one.status_code == two.status_code == 200
            refused = api.get(url)
            assert refused.status_code == 429, refused.text
            assert int(refused.headers["Retry-After"]) >= 1
            assert refused.json()["status_code"] == 429
            assert {"name": "sse_max_per_key", "value": MAX_PER_KEY} in refused.json()["details"]
        # Both closed: the key may stream again (the count is given back on close).
        deadline = time.monotonic() + 5
        while (r := api.get(url, params={"after": 10_000}, timeout=5)).status_code == 429:
            assert time.monotonic() < deadline, "closed streams were not given back"
            time.sleep(0.1)
        assert r.status_code == 200
    finally:
        api.post(f"/v1/runs/{run['id']}/cancel")


def test_a_stream_cut_at_its_time_limit_resumes_with_last_event_id_missing_nothing(
    api: httpx.Client,
) -> None:
    run = _run(api, {"steps": 6, "sleep": 0.5})  # about 3 s: the stream is cut twice or more
    received: list[tuple[int, str]] = []
    connections = 0
    started = time.monotonic()
    while True:
        assert time.monotonic() - started < 60, received
        headers = {"Last-Event-ID": str(received[-1][0])} if received else {}
        with api.stream("GET", f"/v1/runs/{run['id']}/stream", headers=headers) as response:
            assert response.status_code == 200
            opened = time.monotonic()
            received += _read(response)
            assert time.monotonic() - opened < MAX_SECONDS + 5  # cut near the limit
        connections += 1
        if not _ended(api, run["id"]):
            continue
        # Read once the run has ended, so that the log holds its last event.
        log = api.get(f"/v1/runs/{run['id']}/events", params={"limit": 1000}).json()["items"]
        if received and received[-1][0] == log[-1]["seq"]:
            break
    assert connections >= 2, "the stream was never cut: the test proves nothing"
    assert received == [(e["seq"], e["type"]) for e in log]  # each event once, in order
    assert log[-1]["data"]["status"] == "succeeded"


def _ended(api: httpx.Client, run_id: str) -> bool:
    status = api.get(f"/v1/runs/{run_id}").json()["status"]
    return status in ("succeeded", "failed", "canceled")


def test_an_agent_protocol_stream_over_the_cap_starts_no_run(api: httpx.Client) -> None:
    run = _run(api, {"steps": 1, "sleep": 30})
    url = f"/v1/runs/{run['id']}/stream"
    try:
        with api.stream("GET", url) as one, api.stream("GET", url) as two:
            assert one.status_code == two.status_code == 200
            body = {"assistant_id": "lg_echo", "input": {"message": "x"}}
            refused = api.post("/runs/stream", json=body)
            assert refused.status_code == 429, refused.text
            assert int(refused.headers["Retry-After"]) >= 1
            # Nothing was started for the refused stream.
            runs = api.get("/v1/runs").json()["items"]
            assert [r["id"] for r in runs] == [run["id"]]
    finally:
        api.post(f"/v1/runs/{run['id']}/cancel")
