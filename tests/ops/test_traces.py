"""Traces: a run's spans (segment, steps, tools, model calls) join the request that made it."""

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from tests.step_agents.test_definitions import definition
from tests.step_agents.test_step_runs import create, site_with_memo

from runplane.engine import tracing
from runplane.services.runtime import Runtime
from runplane.store.schema import runs

# The caller's own trace: the request joins it, and so does the run.
ROOT = Path(__file__).resolve().parents[2]
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = {"traceparent": f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"}


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Trace into memory for this test; tracing is off again after it."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        yield exporter
    finally:
        tracing.use(None)


async def _spans_of(exporter: InMemorySpanExporter, run_id: str) -> list[ReadableSpan]:
    """The run's spans, once its segment's span has ended (just after the run's end)."""
    for _ in range(200):
        found = [
            s
            for s in exporter.get_finished_spans()
            if (s.attributes or {}).get("runplane.run_id") == run_id
        ]
        if any(s.name == "run" for s in found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no segment span for {run_id}")


def _server_span(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    found = [s for s in exporter.get_finished_spans() if s.name == name]
    assert len(found) == 1, [s.name for s in exporter.get_finished_spans()]
    assert found[0].kind == SpanKind.SERVER
    return found[0]


def _parent_of(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> ReadableSpan:
    assert span.parent is not None, span.name
    return by_id[span.parent.span_id]


@pytest.mark.timeout(60)
async def test_a_run_with_a_tool_call_traces_its_segment_steps_and_tool_under_its_request(
    api: httpx.AsyncClient, rt: Runtime, spans: InMemorySpanExporter
) -> None:
    made = await api.post(
        "/v1/runs",
        json={"agent_id": "research", "input": {"question": "durable workflows"}, "wait": 30},
        headers=CALLER,
    )
    assert made.status_code == 201, made.text
    run = made.json()
    assert run["status"] == "succeeded", run
    mine = await _spans_of(spans, run["id"])
    async with rt.db.read() as conn:
        query = sa.select(runs.c.tenant_id, runs.c.traceparent).where(runs.c.id == run["id"])
        tenant_id, stored = (await conn.execute(query)).one()
    request = _server_span(spans, "POST /v1/runs")
    assert format(request.context.trace_id, "032x") == CALLER_TRACE
    assert (request.attributes or {})["http.response.status_code"] == 201

    by_id = {s.context.span_id: s for s in [*mine, request]}
    (segment,) = [s for s in mine if s.name == "run"]
    assert _parent_of(segment, by_id) is request
    assert segment.attributes is not None
    assert segment.attributes["runplane.agent"] == "research"
    assert segment.attributes["runplane.tenant_id"] == tenant_id
    assert segment.attributes["runplane.segment"] == 0

    (tool,) = [s for s in mine if s.name == "tool"]
    assert (tool.attributes or {})["runplane.tool"] == "search_corpus"
    assert _parent_of(tool, by_id) is segment
    steps = {str((s.attributes or {})["runplane.step"]): s for s in mine if s.name == "step"}
    assert set(steps) == {"search_corpus", "read"}
    assert _parent_of(steps["search_corpus"], by_id) is tool
    assert _parent_of(steps["read"], by_id) is segment
    assert (steps["read"].attributes or {})["runplane.step_number"] == 2
    for span in mine:
        assert span.context.trace_id == request.context.trace_id
        assert (span.attributes or {})["runplane.tenant_id"] == tenant_id
        assert (span.attributes or {})["runplane.agent"] == "research"

    # The run keeps the request's trace context, for whichever process executes it.
    assert stored == f"00-{CALLER_TRACE}-{request.context.span_id:016x}-01"
    # A request's span is named by its route, not by the ids in its path.
    assert (await api.get(f"/v1/runs/{run['id']}")).status_code == 200
    read = _server_span(spans, "GET /v1/runs/{run_id}")
    assert (read.attributes or {})["url.path"] == f"/v1/runs/{run['id']}"


@pytest.mark.timeout(60)
async def test_a_model_call_is_a_span_inside_its_step(
    api: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    await create(api, definition())
    site = await site_with_memo(api)
    spans.clear()
    made = await api.post(
        "/v1/runs",
        json={
            "agent_id": "site-report",
            "input": {"question": "How did sales go?"},
            "site_ids": [site],
            "wait": 30,
        },
    )
    assert made.status_code == 201, made.text
    run = made.json()
    assert run["status"] == "succeeded", run
    mine = await _spans_of(spans, run["id"])
    by_id = {s.context.span_id: s for s in mine}
    models = [s for s in mine if s.name == "model"]
    assert len(models) == 3  # one per step: research, draft, summary
    for model in models:
        assert (model.attributes or {})["runplane.model"] == "offline"
        step = _parent_of(model, by_id)
        assert step.name == "step"
        assert _parent_of(step, by_id).name == "run"
        assert (model.attributes or {})["runplane.agent"] == "site-report"


@pytest.mark.timeout(60)
async def test_a_run_started_later_without_its_request_still_joins_the_request_trace(
    api: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    # Held a second, the run starts from the admission loop, outside any request: its
    # segment's parent can come only from the traceparent stored with it, which is what
    # a worker in another process (or one taking the run over after a crash) reads too.
    made = await api.post(
        "/runs",
        json={"assistant_id": "lg_echo", "input": {"message": "later"}, "after_seconds": 1},
        headers=CALLER,
    )
    assert made.status_code == 200, made.text
    mine = await _spans_of(spans, made.json()["run_id"])
    request = _server_span(spans, "POST /runs")
    (segment,) = [s for s in mine if s.name == "run"]
    assert segment.parent is not None
    assert segment.parent.span_id == request.context.span_id
    assert segment.context.trace_id == request.context.trace_id
    assert format(segment.context.trace_id, "032x") == CALLER_TRACE


@pytest.mark.timeout(60)
async def test_a_run_resumed_by_another_request_continues_the_trace_that_created_it(
    api: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    made = await api.post(
        "/v1/runs",
        json={"agent_id": "steps", "input": {"steps": 2}, "approval": "ON_START"},
        headers=CALLER,
    )
    assert made.status_code == 201, made.text
    run = made.json()
    assert run["status"] == "paused", run
    listed = await api.get("/v1/approvals", params={"run_id": run["id"], "status": "pending"})
    (approval,) = listed.json()["items"]
    # Approved under another trace: the resumed segment still joins the creating request's.
    other = {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    decided = await api.post(
        f"/v1/approvals/{approval['id']}", json={"decision": "approve"}, headers=other
    )
    assert decided.status_code == 200, decided.text
    for _ in range(300):
        segments = [
            s
            for s in spans.get_finished_spans()
            if s.name == "run" and (s.attributes or {}).get("runplane.run_id") == run["id"]
        ]
        if len(segments) == 2:
            break
        await asyncio.sleep(0.05)
    assert sorted((s.attributes or {})["runplane.segment"] for s in segments) == [0, 1]
    request = _server_span(spans, "POST /v1/runs")
    for segment in segments:
        assert segment.parent is not None
        assert segment.parent.span_id == request.context.span_id
        assert format(segment.context.trace_id, "032x") == CALLER_TRACE


@pytest.mark.database_independent
def test_traces_are_off_unless_the_otel_variables_ask_for_them() -> None:
    assert not tracing.wanted({})
    assert not tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": ""})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1"})
    assert tracing.wanted({"OTEL_TRACES_EXPORTER": "console"})
    assert not tracing.wanted(
        {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}
    )
    assert not tracing.wanted(
        {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}
    )
    # Off, a span is one shared no-op, and a new run stores no trace context.
    assert not tracing.active()
    assert tracing.span("step") is tracing.span("tool")
    assert tracing.traceparent() is None


@pytest.mark.database_independent
@pytest.mark.timeout(60)
def test_the_standard_variables_configure_the_exporter_in_a_fresh_process() -> None:
    # A process of its own: the tracer is per process, and this one's is the test's.
    code = (
        "from runplane.engine import tracing\n"
        "assert tracing.setup() and tracing.active()\n"
        "with tracing.segment('run_1', 'echo', 'ten_1', None, 0):\n"
        "    with tracing.span('step', {'runplane.step': 'one'}):\n"
        "        print('traceparent', tracing.traceparent())\n"
        "tracing.shutdown()\n"
    )
    env = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_SERVICE_NAME": "runplane-test",
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=50
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"traceparent 00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}\n", out), out
    assert '"name": "step"' in out and '"name": "run"' in out
    assert '"runplane.run_id": "run_1"' in out and '"service.name": "runplane-test"' in out
