"""Traces (OpenTelemetry): the only module that imports it, and only when traces are on.

Traces are off unless the standard variables ask for them: ``OTEL_EXPORTER_OTLP_ENDPOINT``
(or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) set, or ``OTEL_TRACES_EXPORTER`` set to
``otlp`` or ``console``; ``OTEL_SDK_DISABLED=true`` turns them off. Off, this module
imports nothing of OpenTelemetry and every ``span`` is one shared no-op context: the run
path pays a global read per span.

On, the spans are: ``POST /v1/runs`` and every other request (server spans, joining a
caller's ``traceparent``); ``run`` per run segment (each attempt a worker executes),
a child of the request that created the run through the ``traceparent`` stored with
the run (``runs.traceparent``, so a run resumed by another process joins the same
trace); ``step`` per step, ``tool`` per tool call and ``model`` per model call inside
it. Each carries ``runplane.run_id``, ``runplane.agent`` and ``runplane.tenant_id``.
"""

import contextvars
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer

Attributes = Mapping[str, str | int | float | bool]

_NOTHING: AbstractContextManager[None] = nullcontext()
# The run whose spans this task makes: every span under a segment carries its attributes.
_RUN: contextvars.ContextVar[Attributes | None] = contextvars.ContextVar(
    "runplane_trace_run", default=None
)


class _State:
    """The process's tracer: OpenTelemetry's providers are per process, so is this."""

    tracer: "Tracer | None" = None
    provider: "TracerProvider | None" = None


def wanted(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the standard ``OTEL_*`` variables ask for traces."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    )


def setup() -> bool:
    """Start tracing once per process if the environment asks for it; whether it is on."""
    if _State.tracer is not None:
        return True
    if not wanted():
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; the sampler
    # comes from OTEL_TRACES_SAMPLER; the exporter from OTEL_EXPORTER_OTLP_*.
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    provider = TracerProvider(
        resource=Resource.create({} if named else {"service.name": "runplane"})
    )
    kinds = {k.strip() for k in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(",")}
    if "console" in kinds:
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    if "otlp" in kinds:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    use(provider)
    return True


def use(provider: "TracerProvider | None") -> None:
    """Trace into ``provider`` from now on (None: stop tracing); tests pass their own."""
    _State.provider = provider
    _State.tracer = provider.get_tracer("runplane") if provider is not None else None


def shutdown() -> None:
    """Send the spans still buffered (at the end of the process)."""
    if _State.provider is not None:
        _State.provider.force_flush(5000)


def active() -> bool:
    """Whether spans are being recorded in this process."""
    return _State.tracer is not None


def traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, to store with a run (None: no trace)."""
    if _State.tracer is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent")


def span(name: str, attributes: Attributes | None = None) -> AbstractContextManager[None]:
    """A span named ``name`` under the current one, with the run's attributes and these."""
    if _State.tracer is None:
        return _NOTHING
    return _span(name, attributes or {})


@contextmanager
def _span(name: str, attributes: Attributes) -> Iterator[None]:
    tracer = _State.tracer
    assert tracer is not None
    with tracer.start_as_current_span(name, attributes={**(_RUN.get() or {}), **attributes}):
        yield


def segment(
    run_id: str, agent: str, tenant_id: str, parent: str | None, segment: int
) -> AbstractContextManager[None]:
    """The span of one run segment: a child of ``parent`` (the stored ``traceparent``)."""
    if _State.tracer is None:
        return _NOTHING
    attributes: Attributes = {
        "runplane.run_id": run_id,
        "runplane.agent": agent,
        "runplane.tenant_id": tenant_id,
    }
    return _segment(attributes, parent, segment)


@contextmanager
def _segment(attributes: Attributes, parent: str | None, number: int) -> Iterator[None]:
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    tracer = _State.tracer
    assert tracer is not None
    context = TraceContextTextMapPropagator().extract({"traceparent": parent} if parent else {})
    token = _RUN.set(attributes)
    try:
        with tracer.start_as_current_span(
            "run",
            context=context,
            kind=SpanKind.CONSUMER,
            attributes={**attributes, "runplane.segment": number},
        ):
            yield
    finally:
        _RUN.reset(token)


def request(
    method: str, route: str, headers: Mapping[str, str]
) -> AbstractContextManager[object | None]:
    """The server span of one HTTP request, joining the caller's ``traceparent``."""
    if _State.tracer is None:
        return cast(AbstractContextManager[object | None], _NOTHING)
    return _request(method, route, headers)


@contextmanager
def _request(method: str, route: str, headers: Mapping[str, str]) -> Iterator[object]:
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    tracer = _State.tracer
    assert tracer is not None
    context = TraceContextTextMapPropagator().extract(dict(headers))
    with tracer.start_as_current_span(
        f"{method} {route}",
        context=context,
        kind=SpanKind.SERVER,
        attributes={"http.request.method": method, "url.path": route},
    ) as current:
        yield current


def rename(current: object | None, name: str) -> None:
    """Rename the request's span (from ``request``), e.g. by its route's template."""
    if current is None:
        return
    from opentelemetry.trace import Span

    assert isinstance(current, Span)
    current.update_name(name)


def set_status_code(current: object | None, status: int) -> None:
    """Record a response's status on the request's span (from ``request``)."""
    if current is None:
        return
    from opentelemetry.trace import Span, Status, StatusCode

    assert isinstance(current, Span)
    current.set_attribute("http.response.status_code", status)
    if status >= 500:
        current.set_status(Status(StatusCode.ERROR))
