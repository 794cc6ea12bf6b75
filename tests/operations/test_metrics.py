"""``/metrics``: what it counts after runs, approvals and webhooks; who may read it."""

import asyncio
import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from runplane.domain.errors import Invalid
from runplane.engine.metrics import MAX_AGENTS, Metrics
from runplane.services import metrics as metrics_svc
from runplane.services.runtime import Runtime
from runplane.testing.server import LiveServer
from runplane.testing.webhooks import WebhookReceiver

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(autouse=True)
def fresh_gauges(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read the database's gauges on every scrape (the cache would hide a change)."""
    monkeypatch.setattr(metrics_svc, "CACHE_SECONDS", 0.0)


def parse(text: str) -> Samples:
    """Every sample of an exposition, by name and labels."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


async def scrape(api: httpx.AsyncClient) -> Samples:
    r = await api.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def run(api: httpx.AsyncClient, agent: str, input: object, **extra: object) -> dict:
    r = await api.post("/v1/runs", json={"agent_id": agent, "input": input, **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def until(api: httpx.AsyncClient, run_id: str, status: str, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got = (await api.get(f"/v1/runs/{run_id}")).json()
        if got["status"] == status:
            return dict(got)
        assert time.monotonic() < deadline, got["status"]
        await asyncio.sleep(0.02)


NOTES = {"calls": [{"tool": "read_notes", "arguments": {"day": "Monday"}}]}


async def test_metrics_need_an_admin_key(
    anonymous: httpx.AsyncClient, make_client: Callable[..., object]
) -> None:
    r = await anonymous.get("/metrics")
    assert r.status_code == 401 and r.json()["status_code"] == 401
    viewer = await make_client("viewer")  # type: ignore[operator]
    r = await viewer.get("/metrics")
    assert r.status_code == 403 and "manage_keys" in r.json()["message"]
    admin = await make_client("admin")  # type: ignore[operator]
    assert (await admin.get("/metrics")).status_code == 200


async def test_the_openapi_document_says_what_metrics_answers(api: httpx.AsyncClient) -> None:
    op = (await api.get("/openapi.json")).json()["paths"]["/metrics"]["get"]
    assert set(op["responses"]) >= {"200", "401", "403"}
    assert "text/plain" in op["responses"]["200"]["content"]


async def test_runs_and_steps_move_the_counters_and_histograms(api: httpx.AsyncClient) -> None:
    before = await scrape(api)
    for _ in range(2):
        done = await run(api, "call_tools", NOTES, wait=20)
        assert done["status"] == "succeeded", done
    after = await scrape(api)
    agent = {"agent": "call_tools"}
    started = "runplane_runs_started_total"
    assert value(after, started, **agent) - value(before, started, **agent) >= 2
    ended = "runplane_runs_ended_total"
    grew = value(after, ended, status="succeeded", **agent) - value(
        before, ended, status="succeeded", **agent
    )
    assert grew >= 2
    count = "runplane_run_duration_seconds_count"
    assert value(after, count, **agent) - value(before, count, **agent) >= 2
    steps = "runplane_step_duration_seconds_count"
    assert value(after, steps, **agent) - value(before, steps, **agent) >= 2
    assert value(after, "runplane_db_pool_size", pool="runplane") >= 1
    assert ("runplane_event_stream_subscribers", ()) in after


async def test_a_waiting_approval_is_counted_until_it_is_decided(api: httpx.AsyncClient) -> None:
    started = await run(api, "call_tools", NOTES, approval="ON_TOOL_CALL")
    await until(api, started["id"], "paused")
    paused = await scrape(api)
    assert value(paused, "runplane_approvals_waiting") >= 1
    assert value(paused, "runplane_runs", agent="call_tools", status="paused") >= 1
    r = await api.get("/v1/approvals", params={"run_id": started["id"], "status": "pending"})
    (approval,) = r.json()["items"]
    decided = await api.post(f"/v1/approvals/{approval['id']}", json={"decision": "approve"})
    assert decided.status_code == 200
    await until(api, started["id"], "succeeded")
    after = await scrape(api)
    waiting = "runplane_approvals_waiting"
    assert value(after, waiting) < value(paused, waiting)


@pytest.fixture
def receiver(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    """A receiver the app may call."""
    with WebhookReceiver() as r:
        monkeypatch.setattr(rt.settings, "outbound_allow", [r.allow_entry])
        yield r


async def settled(api: httpx.AsyncClient, run_id: str, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        r = await api.get("/v1/webhooks/deliveries", params={"run_id": run_id, "limit": 100})
        found = r.json()["items"]
        if found and all(d["status"] != "pending" for d in found):
            return list(found)
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.05)


async def test_webhook_deliveries_and_failures_are_counted(
    api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await api.post("/v1/webhook-secret", json={})
    made = await api.post("/v1/webhook-endpoints", json={"url": receiver.url, "events": ["*"]})
    assert made.status_code == 201, made.text
    before = await scrape(api)
    ok = await run(api, "echo", {}, wait=20)
    delivered = await settled(api, ok["id"])
    assert all(d["status"] == "delivered" for d in delivered)
    receiver.answers = [410]  # the receiver is gone: that delivery fails for good
    gone = await run(api, "echo", {}, wait=20)
    failed = [d for d in await settled(api, gone["id"]) if d["status"] == "failed"]
    assert failed
    after = await scrape(api)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("runplane_webhook_deliveries_delivered_total") >= len(delivered)
    assert grew("runplane_webhook_attempts_total", outcome="delivered") >= len(delivered)
    assert grew("runplane_webhook_deliveries_failed_total") >= len(failed)
    assert grew("runplane_webhook_attempts_total", outcome="gone") >= 1


async def test_the_dashboard_uses_only_metrics_that_are_exported(api: httpx.AsyncClient) -> None:
    # Histograms' and counters' series exist once something was counted: run one first.
    done = await run(api, "call_tools", NOTES, wait=20)
    assert done["status"] == "succeeded"
    text = (await api.get("/metrics")).text
    exported = {s for (s, _) in parse(text)}
    exported |= set(re.findall(r"^# TYPE (\S+)", text, re.M))
    board = json.loads(DASHBOARD.read_text())
    assert board["schemaVersion"] >= 36
    variables = board["templating"]["list"]
    assert any(v["type"] == "datasource" and v["query"] == "prometheus" for v in variables)
    used: set[str] = set()
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}"
            used |= set(re.findall(r"\brunplane_[a-z_]+", target["expr"]))
    assert used, "the dashboard queries no runplane metric"
    assert used <= exported, f"not exported: {sorted(used - exported)}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_separate_bind_address_serves_metrics_without_a_key(
    start_server: Callable[..., LiveServer],
) -> None:
    port = _free_port()
    server = start_server(env={"RUNPLANE_METRICS_BIND": f"127.0.0.1:{port}"})
    r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(r.text)}
    assert {"runplane_runs_started", "runplane_queue_depth", "runplane_db_pool_size"} <= names
    assert httpx.get(f"http://127.0.0.1:{port}/other", timeout=10).status_code == 404
    # The API itself no longer serves them, with or without a key.
    assert httpx.get(f"{server.url}/metrics", timeout=10).status_code == 404


@pytest.mark.database_independent
def test_the_bind_address_is_host_and_port() -> None:
    assert metrics_svc.parse_bind("127.0.0.1:9100") == ("127.0.0.1", 9100)
    assert metrics_svc.parse_bind("[::1]:9100") == ("::1", 9100)
    assert metrics_svc.parse_bind(":9100") == ("0.0.0.0", 9100)
    for wrong in ("9100", "host:", "host:port", "host:70000"):
        with pytest.raises(Invalid, match="RUNPLANE_METRICS_BIND"):
            metrics_svc.parse_bind(wrong)


@pytest.mark.database_independent
def test_agent_labels_stop_growing_past_the_cap() -> None:
    m = Metrics()
    names = [m.agent(f"agent-{i}") for i in range(MAX_AGENTS + 5)]
    assert names[:MAX_AGENTS] == [f"agent-{i}" for i in range(MAX_AGENTS)]
    assert set(names[MAX_AGENTS:]) == {"other"}
    assert m.agent("agent-0") == "agent-0"  # a known name keeps its label
