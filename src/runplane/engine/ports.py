"""What the engine needs from the layers above it, declared here and injected at start.

The engine imports nothing above it: the services implement ``RunHooks`` (approval
links, webhooks, the tool gate) and the graph host implements ``GraphRunner``.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from runplane.agents.spec import AgentSpec
from runplane.domain.events import ApprovalRequiredData, ResultData
from runplane.domain.json import JSON
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import NewApproval, NewEvent, RunRecord, WebhookDeliveryRecord
from runplane.engine.governance import Gate
from runplane.engine.journal import Journal
from runplane.engine.metering import Prices
from runplane.engine.outcome import ApprovalAsk


class RunHooks(Protocol):
    """The services' side of a run's life."""

    def gate(self, run: RunRecord) -> Gate:
        """What the run's tool calls reach outside the run (credentials, rate limits, model)."""

    def prices(self, run: RunRecord) -> Prices:
        """How the run's model calls are priced (the tenant's catalogue)."""

    def new_approval(
        self, run: RunRecord, asked: ApprovalAsk, now: datetime
    ) -> tuple[NewApproval, ApprovalRequiredData]:
        """The approval row for a wait, and the ``approval.required`` event data."""

    async def lifecycle(
        self,
        run: RunRecord,
        moved: Sequence[tuple[RunStatus, int]],
        approval: ApprovalRequiredData | None = None,
        *,
        resumed: bool = False,
    ) -> list[WebhookDeliveryRecord]:
        """The webhook outbox rows that these moves (status, event seq) write with them."""

    def delivered_soon(self) -> None:
        """Send what was just committed to the webhook outbox now, not at the next poll."""

    async def start_child(self, parent: RunRecord, agent: str, input: JSON, key: str) -> str:
        """Start (or find, by the idempotency ``key``) a child run of ``parent``; its id."""


class IdleRuns(Protocol):
    """Ending runs that no worker holds (the graph host ends paused runs it carries on)."""

    async def end_idle(
        self,
        run: RunRecord,
        final: RunStatus,
        events: list[NewEvent],
        *,
        result: ResultData | None = None,
    ) -> None:
        """End a queued or waiting run at once."""


class GraphRunner(Protocol):
    """Runs agents of kind ``langgraph``."""

    flush_delay: float

    async def wait_turn(self, run: RunRecord) -> bool:
        """Hold a thread's run until the runs before it end; tell whether it waited."""

    async def execute(
        self, spec: AgentSpec, journal: Journal, run: RunRecord, idle: IdleRuns
    ) -> JSON:
        """Run the graph to its end or its interrupt; return its final values."""

    def finished(self, run_id: str) -> None:
        """Forget the run's live streams."""
