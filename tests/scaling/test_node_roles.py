"""Roles: an API-only node accepts and streams, a worker-only node executes, on one database.

Every stream is opened on the API node while the worker runs the graph: Agent Protocol
parts are relayed through the database, native events are read from it.
"""

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from runplane.testing.server import LiveServer, create_key

PROJECT = Path(__file__).resolve().parents[2] / "runplane.toml"

# The example graph of five nodes, each adding 1 to ``count`` after ``sleep`` seconds.
GRAPH = "counter"
NODES = [f"add{i}" for i in range(1, 6)]


@dataclass
class Part:
    event: str
    data: Any
    id: str | None


def sse(response: httpx.Response) -> Iterator[Part]:
    """The server-sent events of a response, as they come."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if "event" in fields:
                yield Part(
                    fields["event"], json.loads(fields.get("data", "null")), fields.get("id")
                )
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


@dataclass
class Nodes:
    api: LiveServer
    key: str

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.Client(base_url=self.api.url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def nodes(
    new_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Nodes]:
    """An API-only node and a worker-only node on a database of their own."""
    url = new_database("roles")
    key = create_key(url, tenant=f"roles-{uuid.uuid4().hex[:6]}")
    api = LiveServer(url, cwd=tmp_path_factory.mktemp("api"), project=PROJECT, worker=False)
    worker = LiveServer(url, cwd=tmp_path_factory.mktemp("worker"), project=PROJECT, api=False)
    try:
        # Room for a loaded machine: the suite runs in parallel, and a server starts slowly.
        api.start(timeout=90)
        worker.start()
        yield Nodes(api, key)
    finally:
        worker.stop()
        api.stop()


def ended(api: httpx.Client, run_id: str, timeout: float = 90) -> dict[str, Any]:
    """The run once it ended (the worker may still be starting on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while True:
        run = dict(api.get(f"/v1/runs/{run_id}", params={"wait": 10}).json())
        if run["status"] in ("succeeded", "failed", "canceled") or time.monotonic() > deadline:
            return run


def executor_of(api: httpx.Client) -> dict[str, Any]:
    health = api.get("/healthz")
    assert health.status_code == 200, health.text
    return dict(health.json())


def test_an_api_node_executes_nothing_and_each_run_names_the_worker_that_did(
    nodes: Nodes,
) -> None:
    with nodes.client() as api:
        health = executor_of(api)
        assert health["role"] == "api" and health["worker"] is False, health
        ids = []
        for i in range(4):
            r = api.post("/v1/runs", json={"agent_id": "echo", "input": {"i": i}})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        executors = set()
        for run_id in ids:
            run = ended(api, run_id)
            assert run["status"] == "succeeded", run
            executors.add(run["executor_id"])
    assert len(executors) == 1, executors
    (worker,) = executors
    assert "-worker-" in worker and worker != health["executor_id"], (worker, health)


def test_a_stream_on_the_api_node_gets_every_part_of_a_graph_run_on_the_worker(
    nodes: Nodes,
) -> None:
    body = {"assistant_id": GRAPH, "input": {"sleep": 0.05}, "stream_mode": ["values", "updates"]}
    native: list[Part] = []
    with nodes.client() as api:
        with api.stream("POST", "/runs/stream", json=body) as r:
            assert r.status_code == 200, r.read()
            parts = sse(r)
            first = next(parts)
            assert first.event == "metadata", first
            run_id = first.data["run_id"]
            # The run's native event stream, opened on the API node while it runs.
            follower = threading.Thread(target=_follow_native, args=(nodes, run_id, native))
            follower.start()
            rest = list(parts)
        follower.join(30)
        run = api.get(f"/v1/runs/{run_id}").json()
        log = api.get(f"/v1/runs/{run_id}/events", params={"limit": 1000}).json()["items"]
        health = executor_of(api)
    assert [p.event for p in rest] == ["values"] + ["updates", "values"] * 5, rest
    updates = [p.data for p in rest if p.event == "updates"]
    assert updates == [{node: {"count": 1}} for node in NODES], updates
    assert rest[-1].data["count"] == 5, rest[-1]
    assert [int(str(p.id)) for p in rest] == list(range(1, 12)), "numbered as they came"
    assert run["status"] == "succeeded" and run["executor_id"] != health["executor_id"], run
    # Every event of the log came over the native stream, in order, up to the end.
    assert [p.data["seq"] for p in native] == [e["seq"] for e in log], (native, log)
    assert native[-1].event == "status" and native[-1].data["data"]["status"] == "succeeded"
    steps = [p.data["data"]["name"] for p in native if p.event == "step.completed"]
    assert steps == NODES, steps


def _follow_native(nodes: Nodes, run_id: str, into: list[Part]) -> None:
    with nodes.client() as api, api.stream("GET", f"/v1/runs/{run_id}/stream") as r:
        assert r.status_code == 200
        into.extend(sse(r))


def test_a_join_on_the_api_node_gets_the_parts_of_a_run_the_worker_executes(
    nodes: Nodes, db_kind: str
) -> None:
    with nodes.client() as api:
        thread = api.post("/threads", json={}).json()["thread_id"]
        # The thread's first run holds the second back until it ends: the join comes first.
        first = {"assistant_id": GRAPH, "input": {"sleep": 0.3}}
        r = api.post(f"/threads/{thread}/runs", json=first)
        assert r.status_code == 200, r.text
        second = {"assistant_id": GRAPH, "input": {"sleep": 0.2}, "stream_mode": ["updates"]}
        run_id = api.post(f"/threads/{thread}/runs", json=second).json()["run_id"]
        with api.stream("GET", f"/threads/{thread}/runs/{run_id}/stream") as r:
            assert r.status_code == 200, r.read()
            parts = list(sse(r))
        run = api.get(f"/v1/runs/{run_id}").json()
    assert run["status"] == "succeeded", run
    assert parts[0].event == "metadata", parts
    nodes_seen = [next(iter(p.data)) for p in parts[1:]]
    assert all(p.event == "updates" for p in parts[1:]), parts
    if db_kind == "postgres":
        # The worker heard of the join (NOTIFY) before it started the run.
        assert nodes_seen == NODES, parts
    else:
        # SQLite: the worker looks for joins every second, so the first parts may be
        # gone by then; the rest come in order, to the end.
        assert nodes_seen == NODES[len(NODES) - len(nodes_seen) :] and nodes_seen, parts


def test_a_stream_of_a_run_that_fails_on_the_worker_ends_with_its_error(nodes: Nodes) -> None:
    body = {"assistant_id": GRAPH, "input": {"sleep": "not a number"}, "stream_mode": ["updates"]}
    started = time.monotonic()
    with nodes.client() as api, api.stream("POST", "/runs/stream", json=body) as r:
        assert r.status_code == 200, r.read()
        parts = list(sse(r))
    assert [p.event for p in parts] == ["metadata", "error"], parts
    assert time.monotonic() - started < 30


def test_in_one_process_a_run_that_ends_before_its_stream_is_read_still_streams_every_part(
    live_server: Any,
) -> None:
    # The echo graph ends in a few milliseconds, often before the stream's first read.
    body = {"assistant_id": "lg_echo", "input": {"message": "hi"}}
    body["stream_mode"] = ["values", "updates"]
    with live_server.client() as api:
        for _ in range(40):
            with api.stream("POST", "/runs/stream", json=body) as r:
                assert r.status_code == 200, r.read()
                events = [p.event for p in sse(r)]
            assert events == ["metadata", "values", "updates", "values"], events
