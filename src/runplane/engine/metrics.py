"""A process's Prometheus metrics: counters and histograms where things happen, gauges on scrape.

Counters and histograms are updated in-process, one call where the event already
happens (no extra database writes). Gauges that need the database (queues, waiting
approvals, the outbox) are read when ``/metrics`` is scraped, at most every few seconds
(``services/metrics.py``); the rest (pools, subscribers) are read from memory then.
Each process has its own registry: nothing here is global.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from runplane.domain.models import RunRecord, utcnow
from runplane.store.db import PoolStats

# Agent names are tenant-chosen: past this many distinct ones a process reports the rest
# as "other", so that a tenant making agents in a loop cannot blow up the series count.
MAX_AGENTS = 200
OTHER = "other"
RUN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)
STEP_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120)
FINAL = frozenset({"succeeded", "failed", "canceled"})


@dataclass
class Snapshot:
    """The database's gauges as last read (``services/metrics.py``)."""

    at: float = float("-inf")  # monotonic time of the reading
    # (agent name, status) -> runs, for the statuses a run is still active in.
    active: dict[tuple[str, str], int] = field(default_factory=dict)
    # tenant -> (queued runs, age in seconds of its oldest queued run).
    queues: dict[str, tuple[int, float]] = field(default_factory=dict)
    approvals_waiting: int = 0
    webhooks_pending: int = 0


@dataclass
class _Series:
    """One agent's counters and histograms."""

    started: Counter
    run_seconds: Histogram
    step_seconds: Histogram
    ended: dict[str, Counter]


class Metrics:
    """This process's registry and the metrics its code updates as things happen."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.snapshot = Snapshot()
        self._agents: set[str] = set()
        # Each agent name's labelled children, looked up once: a run's counting is then
        # a few increments (labels() takes a lock and builds a key on every call).
        self._series: dict[str, _Series] = {}
        # Read at scrape time; set by the process once its parts exist.
        self.pools: Callable[[], dict[str, PoolStats]] = dict
        self.subscribers: Callable[[], int] = lambda: 0
        r = self.registry
        self.runs_started = Counter(
            "runplane_runs_started", "Runs that started executing.", ["agent"], registry=r
        )
        self.runs_ended = Counter(
            "runplane_runs_ended",
            "Runs that ended, by final status.",
            ["agent", "status"],
            registry=r,
        )
        self.run_seconds = Histogram(
            "runplane_run_duration_seconds",
            "From a run's creation to its end.",
            ["agent"],
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self.step_seconds = Histogram(
            "runplane_step_duration_seconds",
            "From a step's start to its end.",
            ["agent"],
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self.webhook_attempts = Counter(
            "runplane_webhook_attempts",
            "Webhook delivery attempts, by outcome (delivered, retry, failed, gone).",
            ["outcome"],
            registry=r,
        )
        self.webhook_failures = Counter(
            "runplane_webhook_deliveries_failed",
            "Webhook deliveries given up (failed for good).",
            registry=r,
        )
        self.webhook_delivered = Counter(
            "runplane_webhook_deliveries_delivered",
            "Webhook deliveries the receiver accepted.",
            registry=r,
        )
        r.register(_Gauges(self))

    def agent(self, name: str) -> str:
        """The label for an agent name (``other`` past ``MAX_AGENTS`` distinct names)."""
        if name in self._agents:
            return name
        if len(self._agents) >= MAX_AGENTS:
            return OTHER
        self._agents.add(name)
        return name

    def run_moved(
        self,
        run: RunRecord,
        *,
        started: bool,
        to: str | None,
        steps: Sequence[float] = (),
        at: datetime | None = None,
    ) -> None:
        """A write of a run: it started, steps ended (their seconds), it reached ``to``."""
        if not started and to is None and not steps:
            return  # most writes: a flush of events
        name = run["agent_name"]
        series = self._series.get(name)
        if series is None:
            agent = self.agent(name)
            series = self._series[name] = _Series(
                self.runs_started.labels(agent),
                self.run_seconds.labels(agent),
                self.step_seconds.labels(agent),
                {s: self.runs_ended.labels(agent, s) for s in FINAL},
            )
        if started:
            series.started.inc()
        for took in steps:
            series.step_seconds.observe(max(took, 0.0))
        if to in FINAL:
            series.ended[to].inc()
            took = ((at or utcnow()) - run["created_at"]).total_seconds()
            series.run_seconds.observe(max(took, 0.0))

    def webhook_attempt(self, outcome: str, final: str | None) -> None:
        """A delivery attempt's outcome; ``final``: delivered or failed if it ended there."""
        self.webhook_attempts.labels(outcome).inc()
        if final == "delivered":
            self.webhook_delivered.inc()
        elif final == "failed":
            self.webhook_failures.inc()


class _Gauges(Collector):
    """The gauges read at scrape time: the database's snapshot, pools and subscribers."""

    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def describe(self) -> Iterator[Metric]:
        """Describe nothing: the families are made on each scrape."""
        return iter(())

    def collect(self) -> Iterator[Metric]:
        """The gauges' current values."""
        snap = self.m.snapshot
        runs = GaugeMetricFamily(
            "runplane_runs", "Active runs by agent and status.", labels=["agent", "status"]
        )
        for (agent, status), n in sorted(snap.active.items()):
            runs.add_metric([agent, status], n)
        depth = GaugeMetricFamily(
            "runplane_queue_depth", "Queued runs per tenant.", labels=["tenant"]
        )
        oldest = GaugeMetricFamily(
            "runplane_queue_oldest_age_seconds",
            "Age of the oldest queued run per tenant.",
            labels=["tenant"],
        )
        for tenant, (n, age) in sorted(snap.queues.items()):
            depth.add_metric([tenant], n)
            oldest.add_metric([tenant], age)
        yield from (runs, depth, oldest)
        yield GaugeMetricFamily(
            "runplane_approvals_waiting",
            "Approvals waiting for a decision.",
            snap.approvals_waiting,
        )
        yield GaugeMetricFamily(
            "runplane_webhook_deliveries_pending",
            "Webhook deliveries in the outbox not yet delivered or given up.",
            snap.webhooks_pending,
        )
        size = GaugeMetricFamily(
            "runplane_db_pool_size", "Connections a pool may hold.", labels=["pool"]
        )
        used = GaugeMetricFamily(
            "runplane_db_pool_checked_out", "Connections in use.", labels=["pool"]
        )
        waits = CounterMetricFamily(
            "runplane_db_pool_waits", "Checkouts that found the pool full.", labels=["pool"]
        )
        waited = CounterMetricFamily(
            "runplane_db_pool_wait_seconds",
            "Time spent waiting for a connection of a full pool.",
            labels=["pool"],
        )
        for name, p in sorted(self.m.pools().items()):
            size.add_metric([name], p.size)
            used.add_metric([name], p.checked_out)
            waits.add_metric([name], p.waits)
            waited.add_metric([name], p.wait_seconds)
        yield from (size, used, waits, waited)
        yield GaugeMetricFamily(
            "runplane_event_stream_subscribers",
            "Event streams (SSE) open in this process.",
            self.m.subscribers(),
        )
