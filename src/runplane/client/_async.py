"""The asynchronous client: sends the calls that ``_base`` builds, over ``httpx.AsyncClient``.

``_sync.py`` is generated from ``_async.py``: edit ``_async.py`` only, then run
``python -m runplane.client._generate_sync``.
"""

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Literal, TypeVar

import httpx

from runplane.client._activity import ActivityCalls, OnProgress, writable
from runplane.client._base import (
    CONNECTION_LIMITS,
    AgentCalls,
    ApprovalCalls,
    BaseClient,
    Call,
    ConnectionCalls,
    Deadline,
    FileCalls,
    KeyCalls,
    ModelCalls,
    RunCalls,
    StreamResume,
    ToolCalls,
    TriggerCalls,
    WebhookCalls,
    is_terminal,
    next_page,
    wait_timed_out,
)
from runplane.client._benchmarks import BenchmarkCalls
from runplane.client._errors import connection_error, error_from_response
from runplane.client._evidence import EvidenceCalls
from runplane.client._gates import GateCalls
from runplane.client._governance import GovernanceCalls, delete_run
from runplane.client._quality import QualityCalls
from runplane.client._retry import OnRetry
from runplane.client._usage import BudgetCalls, UsageCalls
from runplane.schemas import (
    AgentPublic,
    ApprovalExpiry,
    ApprovalLink,
    ApprovalPublic,
    ApprovalRule,
    AuditEventPublic,
    ConnectionPublic,
    EventPublic,
    FilePublic,
    IntegrationPublic,
    KeyCreated,
    KeyPublic,
    Notify,
    Page,
    RevisionPublic,
    RunPublic,
    SitePublic,
    StepPublic,
    ToolPublic,
    VerifyResult,
    WebhookDeliveryPublic,
    WebhookEndpointPublic,
)
from runplane.schemas.benchmarks import (
    BenchmarkPublic,
    CasePublic,
    ResultPublic,
    SplitPublic,
    SuitePublic,
)
from runplane.schemas.evidence import ExportPublic, SigningKeyPublic
from runplane.schemas.governance import (
    DeletionRequestPublic,
    HoldPublic,
    PolicyVersionPage,
    PolicyVersionPublic,
    TombstonePublic,
)
from runplane.schemas.models import ModelProviderPublic, ModelProviderPut, ModelPublic, ModelPut
from runplane.schemas.quality import QualityPublic
from runplane.schemas.steps import StepAgentCreated, StepAgentDefinition
from runplane.schemas.triggers import TriggerPublic
from runplane.schemas.usage import BudgetPublic, RunEstimate, UsageTotals
from runplane.schemas.webhooks import WebhookSecretPublic

T = TypeVar("T")


class AsyncClient(BaseClient):
    """An asynchronous client of a runplane server."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30,
        max_retries: int | None = None,
        on_retry: OnRetry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Connect to ``base_url`` (default ``RUNPLANE_URL``) with ``api_key``.

        A call the server refuses for now (503, 429) or that loses its connection is sent
        again up to ``max_retries`` times (default ``RUNPLANE_MAX_RETRIES`` or 3; 0: never)
        when that cannot do anything twice; ``on_retry`` is told before each retry.
        """
        super().__init__(base_url, api_key, timeout, max_retries, on_retry)
        self._http = httpx.AsyncClient(transport=transport, limits=CONNECTION_LIMITS)
        self.runs = AsyncRuns(self)
        self.agents = AsyncAgents(self)
        self.approvals = AsyncApprovals(self)
        self.sites = AsyncSites(self)
        self.files = AsyncFiles(self)
        self.connections = AsyncConnections(self)
        self.tools = AsyncTools(self)
        self.integrations = AsyncIntegrations(self)
        self.keys = AsyncKeys(self)
        self.triggers = AsyncTriggers(self)
        self.webhooks = AsyncWebhooks(self)
        self.models = AsyncModels(self)
        self.usage = AsyncUsage(self)
        self.budgets = AsyncBudgets(self)
        self.governance = AsyncGovernance(self)
        self.evidence = AsyncEvidence(self)
        self.activity = AsyncActivity(self)
        self.benchmarks = AsyncBenchmarks(self)
        self.quality = AsyncQuality(self)

    async def health(self) -> dict[str, Any]:
        """Return the server's health (``{"status": "ok", ...}``)."""
        return await self._send(self.health_call())

    async def rotate_webhook_secret(self, grace_seconds: int | None = None) -> WebhookSecretPublic:
        """Make a new webhook signing secret (admin key) and return it: it is shown only now.

        For ``grace_seconds`` (default a day) webhooks are signed with the old secret too.
        """
        return await self._send(self.webhook_secret_call(grace_seconds))

    async def close(self) -> None:
        """Close the connections this client holds."""
        await self._http.aclose()

    # unasync: begin async only
    async def aclose(self) -> None:
        """Close the connections this client holds (as ``httpx`` spells it)."""
        await self.close()

    # unasync: end async only

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _send(self, call: Call[T]) -> T:
        attempts = self.attempts(call.request)
        while True:
            try:
                response = await self._http.send(call.request)
            except httpx.TransportError as exc:
                pause = attempts.after_error(exc)
                if pause is None:
                    raise connection_error(exc, self.base_url) from exc
            else:
                pause = attempts.after_response(response)
                if pause is None:
                    return call.read(response)
            await asyncio.sleep(pause)

    async def _items(self, call: Call[Page[T]]) -> AsyncIterator[T]:
        """Send ``call``, then the calls of the pages after it; yield every item."""
        following: Call[Page[T]] | None = call
        while following is not None:
            page = await self._send(following)
            for item in page.items:
                yield item
            following = next_page(following, page)


class AsyncRuns:
    """Create, read, follow and manage runs."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = RunCalls(client)

    async def create(
        self,
        agent: str,
        input: Any = None,
        *,
        wait: float | None = None,
        idempotency_key: str | None = None,
        user_id: str | None = None,
        context: dict[str, Any] | None = None,
        integrations: list[str] | Literal["*"] | None = None,
        approval: Literal["NONE", "ON_START", "ON_TOOL_CALL"] | None = None,
        approval_rules: list[ApprovalRule | dict[str, Any]] | None = None,
        approval_expiry: ApprovalExpiry | dict[str, Any] | None = None,
        notify: Notify | dict[str, Any] | None = None,
        **fields: Any,
    ) -> RunPublic:
        """Start a run of ``agent``; with ``wait``, the server answers when it ends (or then).

        A run that asks for approval (``approval``, ``approval_rules``) or calls a tool
        that acts as ``user_id`` may wait in ``paused`` or ``auth_required`` on the way.
        """
        fields = {
            "user_id": user_id,
            "context": context,
            "integrations": integrations,
            "approval": approval,
            "approval_rules": approval_rules,
            "approval_expiry": approval_expiry,
            "notify": notify,
            **fields,
        }
        call = self._calls.create(
            agent, input, wait=wait, idempotency_key=idempotency_key, fields=fields
        )
        return await self._client._send(call)

    async def get(self, run_id: str) -> RunPublic:
        """Return a run."""
        return await self._client._send(self._calls.get(run_id))

    async def list(
        self,
        *,
        agent_id: str | None = None,
        status: str | None = None,
        q: str | None = None,
        archived: bool | None = None,
        trigger: str | None = None,
        parent_run_id: str | None = None,
        liveness: str | None = None,
        limit: int = 20,
        continuation_token: str | None = None,
    ) -> Page[RunPublic]:
        """Return one page of runs, newest first, matching the filters.

        ``liveness`` (``working``, ``stalled`` or ``lost``) keeps the running runs in that state.
        """
        filters = {
            "agent_id": agent_id,
            "status": status,
            "q": q,
            "archived": archived,
            "trigger": trigger,
            "parent_run_id": parent_run_id,
            "liveness": liveness,
            "limit": limit,
            "continuation_token": continuation_token,
        }
        return await self._client._send(self._calls.list(filters))

    async def iter(
        self,
        *,
        agent_id: str | None = None,
        status: str | None = None,
        q: str | None = None,
        archived: bool | None = None,
        trigger: str | None = None,
        parent_run_id: str | None = None,
        liveness: str | None = None,
        limit: int = 100,
    ) -> AsyncIterator[RunPublic]:
        """Iterate over every run matching the filters, page after page."""
        filters = {
            "agent_id": agent_id,
            "status": status,
            "q": q,
            "archived": archived,
            "trigger": trigger,
            "parent_run_id": parent_run_id,
            "liveness": liveness,
            "limit": limit,
        }
        async for run in self._client._items(self._calls.list(filters)):
            yield run

    async def steps(self, run_id: str) -> Page[StepPublic]:
        """Return a run's steps."""
        return await self._client._send(self._calls.steps(run_id))

    async def files(self, run_id: str) -> Page[FilePublic]:
        """Return the files a run's steps saved."""
        return await self._client._send(FileCalls(self._client).of_run(run_id))

    async def events(
        self, run_id: str, after: int = 0, limit: int | None = None
    ) -> Page[EventPublic]:
        """Return a run's events with ``seq`` above ``after``."""
        return await self._client._send(self._calls.events(run_id, after, limit))

    async def stream(self, run_id: str, after: int = 0) -> AsyncIterator[EventPublic]:
        """Follow a run's events live until its terminal event, reconnecting if cut off."""
        resume = StreamResume(run_id, after, self._client.base_url)
        http = self._client._http
        refusals = self._client.attempts(self._calls.stream(resume))
        while True:
            try:
                response = await http.send(self._calls.stream(resume), stream=True)
            except httpx.TransportError as exc:
                await asyncio.sleep(resume.dropped(exc))
                continue
            cause: Exception | None = None
            pause: float | None = None
            try:
                if response.is_error:
                    await response.aread()
                    pause = refusals.after_response(response)
                    if pause is None:
                        raise error_from_response(response)
                else:
                    resume.connected()
                    async for line in response.aiter_lines():
                        event = resume.feed(line)
                        if event is not None:
                            yield event
                            if resume.ended:
                                return
            except httpx.TransportError as exc:
                cause = exc
            finally:
                await response.aclose()
            await asyncio.sleep(resume.dropped(cause) if pause is None else pause)

    async def wait(self, run_id: str, timeout: float | None = None) -> RunPublic:
        """Return the run once it has ended; raise ``TimeoutError`` after ``timeout`` seconds.

        A run that waits (``paused``, ``auth_required``) has not ended: this goes on waiting.
        """
        deadline = Deadline(timeout)
        while True:
            run = await self._client._send(self._calls.get(run_id, wait=deadline.next_wait()))
            if is_terminal(run):
                return run
            if deadline.expired:
                raise wait_timed_out(run_id, deadline)
            await asyncio.sleep(deadline.pause())

    async def cancel(self, run_id: str) -> RunPublic:
        """Ask a run to stop; it becomes ``canceled`` shortly after."""
        return await self._client._send(self._calls.cancel(run_id))

    async def repair(
        self, run_id: str, action: Literal["resume", "fail"], reason: str
    ) -> RunPublic:
        """Resume a stalled or lost run on a live worker, or fail it, saying why (admin keys)."""
        return await self._client._send(self._calls.repair(run_id, action, reason))

    async def rerun(self, run_id: str, from_step: int | None = None) -> RunPublic:
        """Start a new run like this one, reusing its steps before ``from_step``."""
        return await self._client._send(self._calls.rerun(run_id, from_step))

    async def duplicate(self, run_id: str, **overrides: Any) -> RunPublic:
        """Start a new run from this one's configuration with ``input``/``variables``/``name``."""
        return await self._client._send(self._calls.duplicate(run_id, overrides))

    async def archive(self, run_id: str) -> RunPublic:
        """Hide a run from default listings."""
        return await self._client._send(self._calls.archive(run_id, True))

    async def unarchive(self, run_id: str) -> RunPublic:
        """Bring an archived run back into default listings."""
        return await self._client._send(self._calls.archive(run_id, False))

    async def delete(
        self, run_id: str, *, reason: str | None = None
    ) -> DeletionRequestPublic | None:
        """Delete an ended run if the policy permits it (None: deleted, a tombstone kept);
        when the policy wants an approval, the deletion request that waits for it."""
        return await self._client._send(delete_run(self._client, run_id, reason))

    async def verify(self, run_id: str) -> VerifyResult:
        """Check a run's hash-chained event log."""
        return await self._client._send(self._calls.verify(run_id))


class AsyncAgents:
    """Read agents and publish their revisions."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = AgentCalls(client)
        self._gates = GateCalls(client)

    async def list(
        self, *, limit: int | None = None, continuation_token: str | None = None
    ) -> Page[AgentPublic]:
        """Return a page of agents."""
        return await self._client._send(self._calls.list(limit, continuation_token))

    async def get(self, agent: str) -> AgentPublic:
        """Return an agent, by id or name."""
        return await self._client._send(self._calls.get(agent))

    async def revisions(self, agent: str) -> Page[RevisionPublic]:
        """Return an agent's revisions."""
        return await self._client._send(self._calls.revisions(agent))

    async def create(self, definition: Mapping[str, Any] | StepAgentDefinition) -> StepAgentCreated:
        """Create a step agent from its definition; its first revision is a draft."""
        return await self._client._send(self._calls.create(definition))

    async def revise(
        self, agent: str, definition: Mapping[str, Any] | StepAgentDefinition
    ) -> RevisionPublic:
        """Save a new draft revision of a step agent (the same definition: the same one)."""
        return await self._client._send(self._calls.revise(agent, definition))

    async def revision(self, agent: str, revision: str) -> RevisionPublic:
        """Return one revision of an agent, with its definition (``config``)."""
        return await self._client._send(self._calls.revision(agent, revision))

    async def publish(
        self, agent: str, revision: str, *, override_reason: str | None = None
    ) -> RevisionPublic:
        """Make ``revision`` the one new runs of ``agent`` use, through its replay gate if the
        agent requires one (``override_reason``: an admin publishes over a failing gate)."""
        return await self._client._send(self._calls.publish(agent, revision, override_reason))

    async def start_gate(self, agent: str, revision: str) -> SuitePublic:
        """Start the revision's replay gate: recent production runs replayed and scored."""
        return await self._client._send(self._gates.start(agent, revision))

    async def gate(self, agent: str, revision: str) -> SuitePublic:
        """Return the revision's latest replay gate (its summary and verdict once ended)."""
        return await self._client._send(self._gates.get(agent, revision))

    async def wait_for_gate(
        self, agent: str, revision: str, *, timeout: float = 300.0, poll: float = 0.5
    ) -> SuitePublic:
        """Return the revision's latest replay gate once it has ended (or after ``timeout``)."""
        waited = 0.0
        while True:
            suite = await self.gate(agent, revision)
            if suite.status != "running" or waited >= timeout:
                return suite
            await asyncio.sleep(poll)
            waited += poll

    async def split(self, agent: str) -> SplitPublic:
        """Return the agent's A/B split (NotFound when it has none)."""
        return await self._client._send(self._gates.split(agent))

    async def set_split(
        self, agent: str, *, revision_a: str, revision_b: str, percent_b: float
    ) -> SplitPublic:
        """Send ``percent_b`` % of the agent's new runs that name no revision to revision B."""
        return await self._client._send(
            self._gates.set_split(agent, revision_a, revision_b, percent_b)
        )

    async def remove_split(self, agent: str) -> None:
        """End the agent's A/B split: its new runs use the published revision again."""
        await self._client._send(self._gates.remove_split(agent))


class AsyncApprovals:
    """The decisions runs wait for: list, read, approve, reject (by id or signed link)."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = ApprovalCalls(client)

    async def list(
        self,
        *,
        run_id: str | None = None,
        status: str | None = None,
        limit: int = 20,
        continuation_token: str | None = None,
    ) -> Page[ApprovalPublic]:
        """Return one page of approvals, newest first (``status``: pending, approved …)."""
        filters = {
            "run_id": run_id,
            "status": status,
            "limit": limit,
            "continuation_token": continuation_token,
        }
        return await self._client._send(self._calls.list(filters))

    async def iter(
        self, *, run_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> AsyncIterator[ApprovalPublic]:
        """Iterate over every approval matching the filters, page after page."""
        filters = {"run_id": run_id, "status": status, "limit": limit}
        async for approval in self._client._items(self._calls.list(filters)):
            yield approval

    async def get(self, approval_id: str) -> ApprovalPublic:
        """Return an approval."""
        return await self._client._send(self._calls.get(approval_id))

    async def approve(
        self,
        approval_id: str,
        comment: str | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> ApprovalPublic:
        """Approve; a tool call may get edited ``arguments``. The run resumes at once."""
        return await self.decide(
            approval_id, decision="approve", comment=comment, arguments=arguments
        )

    async def reject(self, approval_id: str, comment: str | None = None) -> ApprovalPublic:
        """Reject; the agent gets a ``tool_rejected`` error (a rejected plan cancels the run)."""
        return await self.decide(approval_id, decision="reject", comment=comment)

    async def decide(self, approval_id: str, **body: Any) -> ApprovalPublic:
        """Decide with an ``ApprovalDecision`` body (``decision``, ``action``, ``comment`` …)."""
        return await self._client._send(self._calls.decide(approval_id, body))

    async def view_link(self, token: str) -> ApprovalPublic:
        """Return the approval a signed link (or its token) names, without using it up."""
        return await self._client._send(self._calls.view_link(token))

    async def decide_link(
        self,
        token: str,
        decision: Literal["approve", "reject"] | None = None,
        **body: Any,
    ) -> ApprovalPublic:
        """Decide by a signed link (or its token); it works once (again: ``ConflictError``)."""
        call = self._calls.decide_link(token, {"decision": decision, **body})
        return await self._client._send(call)

    async def new_link(self, approval_id: str) -> ApprovalLink:
        """Give a pending approval a new link (shown only now); the previous one stops working."""
        return await self._client._send(self._calls.new_link(approval_id))

    async def revoke_link(self, approval_id: str) -> ApprovalPublic:
        """Revoke a pending approval's link (using it is then a 410); it stays pending."""
        return await self._client._send(self._calls.revoke_link(approval_id))


class AsyncConnections:
    """Users' credentials for integrations; storing one resumes the runs waiting for it."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = ConnectionCalls(client)

    async def put(self, user_id: str, integration: str, secret: str) -> ConnectionPublic:
        """Store ``user_id``'s secret for ``integration``; ``resumed_runs`` lists the runs resumed."""
        return await self._client._send(self._calls.put(user_id, integration, secret))

    async def list(self, user_id: str) -> Page[ConnectionPublic]:
        """Return a user's connections (never their secrets)."""
        return await self._client._send(self._calls.list(user_id))

    async def delete(self, user_id: str, integration: str) -> None:
        """Revoke a user's credential for an integration."""
        await self._client._send(self._calls.delete(user_id, integration))


class AsyncModels:
    """The model catalogue (the tenant's prices) and its model providers (admin keys change)."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = ModelCalls(client)

    async def list(self) -> Page[ModelPublic]:
        """Return every model the tenant may name: built-in ones and its own entries."""
        return await self._client._send(self._calls.list())

    async def get(self, name: str) -> ModelPublic:
        """Return one model of the catalogue (the tenant's entry over the built-in one)."""
        return await self._client._send(self._calls.get(name))

    async def put(
        self,
        name: str,
        *,
        provider: str,
        context_window: int,
        input_per_mtok: float,
        output_per_mtok: float,
        cached_per_mtok: float = 0.0,
    ) -> ModelPublic:
        """Set the tenant's own entry for a model (prices in US dollars per million tokens)."""
        entry = ModelPut(
            provider=provider,
            context_window=context_window,
            input_per_mtok=input_per_mtok,
            output_per_mtok=output_per_mtok,
            cached_per_mtok=cached_per_mtok,
        )
        return await self._client._send(self._calls.put(name, entry))

    async def delete(self, name: str) -> None:
        """Remove the tenant's own entry for a model."""
        await self._client._send(self._calls.delete(name))

    async def list_providers(self) -> Page[ModelProviderPublic]:
        """Return the tenant's model providers (their keys masked)."""
        return await self._client._send(self._calls.list_providers())

    async def get_provider(self, name: str) -> ModelProviderPublic:
        """Return one of the tenant's model providers."""
        return await self._client._send(self._calls.get_provider(name))

    async def put_provider(
        self,
        name: str,
        kind: Literal["openai", "anthropic"],
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        default_model: str | None = None,
        default: bool = False,
    ) -> ModelProviderPublic:
        """Add or change a model provider; without ``api_key`` the stored key stays."""
        provider = ModelProviderPut(
            kind=kind,
            base_url=base_url,
            api_key=api_key,
            default_model=default_model,
            default=default,
        )
        return await self._client._send(self._calls.put_provider(name, provider))

    async def delete_provider(self, name: str) -> None:
        """Remove a model provider and its key."""
        await self._client._send(self._calls.delete_provider(name))


class AsyncKeys:
    """The tenant's API keys and its audit log (admin keys only)."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = KeyCalls(client)

    async def create(
        self,
        role: Literal["admin", "member", "approver", "viewer"] = "member",
        *,
        name: str | None = None,
        user_id: str | None = None,
    ) -> KeyCreated:
        """Create a key (bound to ``user_id`` if given); ``.key`` holds it, shown only now."""
        return await self._client._send(self._calls.create(name, role, user_id))

    async def list(self) -> Page[KeyPublic]:
        """Return the tenant's keys, live and revoked (never their secrets)."""
        return await self._client._send(self._calls.list())

    async def revoke(self, key_id: str) -> None:
        """Revoke a key: its next request is refused."""
        await self._client._send(self._calls.revoke(key_id))

    async def audit_events(self, limit: int | None = None) -> Page[AuditEventPublic]:
        """Return the newest page of the tenant's audit events (key changes and more)."""
        return await self._client._send(self._calls.audit_events(limit))


class AsyncEvidence:
    """Evidence bundles of runs, exports built in the background, and signing keys.

    Check a bundle offline with ``runplane.client.verify_evidence`` (no server needed).
    """

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = EvidenceCalls(client)

    async def run_bundle(self, run_id: str) -> bytes:
        """Return the evidence bundle (a zip) of one ended run."""
        return await self._client._send(self._calls.run_bundle(run_id))

    async def export(
        self,
        run_ids: list[str] | None = None,
        *,
        agent_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        status: str | None = None,
    ) -> ExportPublic:
        """Start an export of ``run_ids``, or else of the runs the query matches (admin keys)."""
        call = self._calls.create_export(run_ids, agent_id, created_after, created_before, status)
        return await self._client._send(call)

    async def get_export(self, export_id: str) -> ExportPublic:
        """Return an export: its status and progress."""
        return await self._client._send(self._calls.get_export(export_id))

    async def list_exports(
        self, *, limit: int = 20, continuation_token: str | None = None
    ) -> Page[ExportPublic]:
        """Return one page of the tenant's exports, newest first."""
        return await self._client._send(self._calls.list_exports(limit, continuation_token))

    async def wait_export(
        self, export_id: str, *, timeout: float | None = None, poll: float = 0.5
    ) -> ExportPublic:
        """Poll an export until it has succeeded or failed (``timeout`` seconds at most)."""
        deadline = Deadline(timeout)
        while True:
            export = await self.get_export(export_id)
            if export.status in ("succeeded", "failed") or deadline.expired:
                return export
            await asyncio.sleep(poll)

    async def download_export(self, export_id: str) -> bytes:
        """Return a finished export's zip."""
        return await self._client._send(self._calls.download_export(export_id))

    async def keys(self) -> Page[SigningKeyPublic]:
        """Return the tenant's signing keys (public halves), newest first."""
        return await self._client._send(self._calls.keys())

    async def rotate_key(self) -> SigningKeyPublic:
        """Make a new signing key and retire the old one (admin keys)."""
        return await self._client._send(self._calls.rotate_key())


class AsyncTools:
    """The tools agents may call."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = ToolCalls(client)

    async def list(self) -> Page[ToolPublic]:
        """Return every tool, with the JSON Schema of its arguments."""
        return await self._client._send(self._calls.tools())


class AsyncIntegrations:
    """The integrations: named external systems and their tools."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = ToolCalls(client)

    async def list(self) -> Page[IntegrationPublic]:
        """Return every integration, whether it needs a connection, and its tools."""
        return await self._client._send(self._calls.integrations())


class AsyncSites:
    """Sites: named collections of files that runs read."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = FileCalls(client)

    async def create(self, name: str, description: str | None = None) -> SitePublic:
        """Create a site."""
        return await self._client._send(self._calls.create_site(name, description))

    async def list(self) -> Page[SitePublic]:
        """Return every site."""
        return await self._client._send(self._calls.sites())

    async def get(self, site: str) -> SitePublic:
        """Return a site, by id or name."""
        return await self._client._send(self._calls.site(site))

    async def delete(self, site: str) -> None:
        """Delete an empty site."""
        await self._client._send(self._calls.delete_site(site))


class AsyncFiles:
    """Files: upload into a site, list, read, download, delete."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = FileCalls(client)

    async def upload(
        self, site: str, name: str, content: bytes, media_type: str | None = None
    ) -> FilePublic:
        """Upload ``content`` as a file called ``name`` into ``site``."""
        return await self._client._send(self._calls.upload(site, name, content, media_type))

    async def list(
        self,
        *,
        site_id: str | None = None,
        run_id: str | None = None,
        limit: int = 20,
        continuation_token: str | None = None,
    ) -> Page[FilePublic]:
        """Return one page of files, newest first."""
        filters = {
            "site_id": site_id,
            "run_id": run_id,
            "limit": limit,
            "continuation_token": continuation_token,
        }
        return await self._client._send(self._calls.list(filters))

    async def get(self, file_id: str) -> FilePublic:
        """Return a file's metadata."""
        return await self._client._send(self._calls.get(file_id))

    async def download(self, file_id: str) -> bytes:
        """Return a file's bytes."""
        return await self._client._send(self._calls.content(file_id))

    async def delete(self, file_id: str) -> None:
        """Delete a file (409 while it is on hold or a run uses it)."""
        await self._client._send(self._calls.delete(file_id))

    async def hold(self, file_id: str, reason: str) -> FilePublic:
        """Put a file on legal hold (admin keys); return it, with its ``hold``."""
        return await self._client._send(self._calls.hold(file_id, reason))

    async def release(self, file_id: str) -> FilePublic:
        """Release a file's legal hold (admin keys); return it."""
        return await self._client._send(self._calls.release(file_id))


class AsyncTriggers:
    """Schedules and signed webhooks that start runs of an agent."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = TriggerCalls(client)

    async def create(
        self, kind: Literal["schedule", "webhook", "upload"], agent: str, **fields: Any
    ) -> TriggerPublic:
        """Make a trigger (``schedule=``, ``mapping=``, ``site_id=``, ``glob=``, ``input=`` …); a
        webhook trigger's ``.secret`` is shown only in this answer."""
        return await self._client._send(
            self._calls.create({**fields, "kind": kind, "agent_id": agent})
        )

    async def list(
        self,
        *,
        kind: str | None = None,
        agent: str | None = None,
        enabled: bool | None = None,
        limit: int | None = None,
        continuation_token: str | None = None,
    ) -> Page[TriggerPublic]:
        """Return a page of the tenant's triggers, oldest first."""
        filters = {
            "kind": kind,
            "agent_id": agent,
            "enabled": enabled,
            "limit": limit,
            "continuation_token": continuation_token,
        }
        return await self._client._send(self._calls.list(filters))

    async def get(self, trigger_id: str) -> TriggerPublic:
        """Return a trigger, with a schedule's next fire times."""
        return await self._client._send(self._calls.get(trigger_id))

    async def update(self, trigger_id: str, **fields: Any) -> TriggerPublic:
        """Change a trigger's input, variables, revision, schedule or mapping."""
        return await self._client._send(self._calls.update(trigger_id, fields))

    async def enable(self, trigger_id: str) -> TriggerPublic:
        """Enable a trigger."""
        return await self._client._send(self._calls.act(trigger_id, "enable"))

    async def disable(self, trigger_id: str) -> TriggerPublic:
        """Disable a trigger: it starts no run until enabled."""
        return await self._client._send(self._calls.act(trigger_id, "disable"))

    async def pause(self, trigger_id: str) -> TriggerPublic:
        """Pause a schedule."""
        return await self._client._send(self._calls.act(trigger_id, "pause"))

    async def resume(self, trigger_id: str) -> TriggerPublic:
        """Resume a paused schedule from its next tick after now."""
        return await self._client._send(self._calls.act(trigger_id, "resume"))

    async def delete(self, trigger_id: str) -> None:
        """Delete a trigger; the runs it started stay."""
        await self._client._send(self._calls.delete(trigger_id))


class AsyncWebhooks:
    """Lifecycle webhooks: the tenant's endpoints and the outbox's deliveries (admin keys)."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = WebhookCalls(client)

    async def create_endpoint(
        self,
        url: str,
        events: list[str] | None = None,
        *,
        secret: str | None = None,
        enabled: bool = True,
        description: str | None = None,
    ) -> WebhookEndpointPublic:
        """Add an endpoint for ``events`` (default every one, ``*``); its secret is never shown."""
        body: dict[str, Any] = {"url": url, "enabled": enabled}
        for name, value in (("events", events), ("secret", secret), ("description", description)):
            if value is not None:
                body[name] = value
        return await self._client._send(self._calls.create_endpoint(body))

    async def list_endpoints(self) -> Page[WebhookEndpointPublic]:
        """Return the tenant's endpoints, oldest first."""
        return await self._client._send(self._calls.list_endpoints())

    async def get_endpoint(self, endpoint_id: str) -> WebhookEndpointPublic:
        """Return one endpoint."""
        return await self._client._send(self._calls.get_endpoint(endpoint_id))

    async def update_endpoint(self, endpoint_id: str, **changes: Any) -> WebhookEndpointPublic:
        """Change an endpoint (``url``, ``events``, ``secret``, ``enabled``, ``description``)."""
        return await self._client._send(self._calls.update_endpoint(endpoint_id, changes))

    async def delete_endpoint(self, endpoint_id: str) -> None:
        """Remove an endpoint."""
        await self._client._send(self._calls.delete_endpoint(endpoint_id))

    async def deliveries(
        self,
        *,
        endpoint_id: str | None = None,
        run_id: str | None = None,
        status: Literal["pending", "delivered", "failed"] | None = None,
        limit: int | None = None,
    ) -> Page[WebhookDeliveryPublic]:
        """Return the newest page of deliveries, filtered by endpoint, run and status."""
        params = {"endpoint_id": endpoint_id, "run_id": run_id, "status": status, "limit": limit}
        return await self._client._send(self._calls.deliveries(params))

    async def delivery(self, delivery_id: str) -> WebhookDeliveryPublic:
        """Return one delivery with its attempts."""
        return await self._client._send(self._calls.delivery(delivery_id))

    async def redeliver(self, delivery_id: str) -> WebhookDeliveryPublic:
        """Send a delivery again, with the same ``webhook-id``."""
        return await self._client._send(self._calls.redeliver(delivery_id))


class AsyncUsage:
    """Model usage: the tenant's totals over time, and a run's cost before it starts."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = UsageCalls(client)

    async def totals(
        self,
        group_by: Literal["agent", "model", "day"] = "agent",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> UsageTotals:
        """Return tokens and credits of the tenant's model calls per agent, model or day."""
        return await self._client._send(self._calls.totals(group_by, since, until))

    async def estimate(self, agent: str, input: Any = None, **fields: Any) -> RunEstimate:
        """Return the credits a run of ``agent`` on ``input`` would cost; no run is made."""
        body = {**fields, "agent_id": agent, "input": input}
        return await self._client._send(self._calls.estimate(body))


class AsyncBudgets:
    """Budgets of model usage: the tenant's, an agent's (``agent=``) and a run's own."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = BudgetCalls(client)

    async def list(self) -> list[BudgetPublic]:
        """Return the tenant's budget and its agents'."""
        return await self._client._send(self._calls.list())

    async def get(self, agent: str | None = None) -> BudgetPublic:
        """Return the tenant's budget, or an agent's."""
        return await self._client._send(self._calls.get(agent))

    async def set(self, agent: str | None = None, **limits: Any) -> BudgetPublic:
        """Set the tenant's (or an agent's) ``credits``, ``tokens``, ``hard_ceiling``, ``period``."""
        return await self._client._send(self._calls.put(agent, limits))

    async def delete(self, agent: str | None = None) -> None:
        """Remove the tenant's (or an agent's) budget."""
        await self._client._send(self._calls.delete(agent))

    async def set_run(self, run_id: str, **limits: Any) -> RunPublic:
        """Replace a run's own budget; a run it paused resumes."""
        return await self._client._send(self._calls.set_run(run_id, limits))

    async def approve(
        self, run_id: str, *, credits: float | None = None, tokens: int | None = None
    ) -> RunPublic:
        """Approve a budget-paused run's overrun by this much; it resumes from the same step."""
        body = {"credits": credits, "tokens": tokens}
        return await self._client._send(self._calls.approve(run_id, body))


class AsyncGovernance:
    """The governance policy and its versions, legal holds, deletion requests, tombstones."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = GovernanceCalls(client)

    async def policy(self, version: int | None = None) -> PolicyVersionPublic:
        """Return the policy in force, or one version of it."""
        return await self._client._send(self._calls.policy(version))

    async def set_policy(
        self,
        document: Mapping[str, Any],
        *,
        comment: str | None = None,
        base_version: int | None = None,
    ) -> PolicyVersionPublic:
        """Store a new version of the policy (admin); a stale ``base_version`` is a 409."""
        return await self._client._send(self._calls.set_policy(document, comment, base_version))

    async def policy_versions(
        self, *, limit: int | None = None, before: int | None = None
    ) -> PolicyVersionPage:
        """Return a page of the policy's versions, newest first."""
        return await self._client._send(self._calls.versions(limit, before))

    async def hold(
        self,
        reason: str,
        *,
        run_id: str | None = None,
        agent_id: str | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> HoldPublic:
        """Put a run, an agent's runs, or a query's runs on legal hold."""
        fields = {"reason": reason, "run_id": run_id, "agent_id": agent_id, "query": query}
        return await self._client._send(self._calls.hold(fields))

    async def holds(
        self, *, include_released: bool = False, limit: int | None = None
    ) -> Page[HoldPublic]:
        """Return a page of the tenant's holds (active ones unless asked), newest first."""
        return await self._client._send(self._calls.holds(include_released, limit))

    async def get_hold(self, hold_id: str) -> HoldPublic:
        """Return one hold."""
        return await self._client._send(self._calls.get_hold(hold_id))

    async def release_hold(self, hold_id: str) -> HoldPublic:
        """Release a hold."""
        return await self._client._send(self._calls.release(hold_id))

    async def deletions(
        self, *, status: str | None = None, limit: int | None = None
    ) -> Page[DeletionRequestPublic]:
        """Return a page of deletion requests, newest first."""
        return await self._client._send(self._calls.deletions(status, limit))

    async def approve_deletion(
        self, request_id: str, *, comment: str | None = None
    ) -> DeletionRequestPublic:
        """Approve a deletion request of another key: the run is deleted."""
        return await self._client._send(self._calls.decide(request_id, True, comment))

    async def reject_deletion(
        self, request_id: str, *, comment: str | None = None
    ) -> DeletionRequestPublic:
        """Reject a deletion request: the run stays."""
        return await self._client._send(self._calls.decide(request_id, False, comment))

    async def tombstones(self, *, limit: int | None = None) -> Page[TombstonePublic]:
        """Return a page of what is kept of deleted runs, most recently deleted first."""
        return await self._client._send(self._calls.tombstones(limit))


class AsyncActivity:
    """The activity log (admin keys): who did what, and when.

    Filters, as keywords: ``actor`` (a key id, or ``trigger:…``, ``cron:…``, ``run:…``,
    ``link:…``, ``system``), ``actor_type``, ``resource``, ``resource_id``, ``action``
    (exact, or a prefix ending in ``.``), ``since`` and ``until`` (datetimes or RFC 3339).
    """

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = ActivityCalls(client)

    async def list(
        self, *, limit: int = 50, continuation_token: str | None = None, **filters: Any
    ) -> Page[AuditEventPublic]:
        """Return one page of matching activity, newest first."""
        query = {**filters, "limit": limit, "continuation_token": continuation_token}
        return await self._client._send(self._calls.list(query))

    async def iter(self, *, limit: int = 500, **filters: Any) -> AsyncIterator[AuditEventPublic]:
        """Iterate over all matching activity, newest first, page after page."""
        async for row in self._client._items(self._calls.list({**filters, "limit": limit})):
            yield row

    async def export(
        self,
        path: str | Path | BinaryIO,
        *,
        format: Literal["jsonl", "csv"] = "jsonl",
        on_progress: OnProgress | None = None,
        **filters: Any,
    ) -> int:
        """Write all matching activity to ``path`` (or an open binary file) as JSON Lines
        or CSV; return the bytes written.

        The server streams the file; ``on_progress`` is told the bytes written so far.
        """
        request = self._calls.export(filters, format)
        try:
            response = await self._client._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise connection_error(exc, self._client.base_url) from exc
        written = 0
        try:
            if response.is_error:
                await response.aread()
                raise error_from_response(response)
            with writable(path) as out:
                async for chunk in response.aiter_bytes():
                    out.write(chunk)
                    written += len(chunk)
                    if on_progress is not None:
                        on_progress(written)
        finally:
            await response.aclose()
        return written


class AsyncBenchmarks:
    """Benchmarks of agents: their cases and scorers, suite runs against a revision, and
    the scores of single runs."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = BenchmarkCalls(client)

    async def create(
        self,
        agent_id: str,
        name: str,
        scorers: Sequence[Mapping[str, Any]],
        *,
        description: str | None = None,
        on_completion: Mapping[str, Any] | None = None,
        gate: Mapping[str, Any] | None = None,
    ) -> BenchmarkPublic:
        """Define a benchmark of an agent: its scorers, completion sampling and gate."""
        fields = {
            "agent_id": agent_id,
            "name": name,
            "scorers": [dict(s) for s in scorers],
            "description": description,
            "on_completion": on_completion,
            "gate": gate,
        }
        return await self._client._send(self._calls.create(fields))

    async def list(
        self,
        *,
        agent_id: str | None = None,
        limit: int | None = None,
        continuation_token: str | None = None,
    ) -> Page[BenchmarkPublic]:
        """Return a page of benchmarks (of one agent), newest first."""
        return await self._client._send(self._calls.list(agent_id, limit, continuation_token))

    async def get(self, benchmark_id: str) -> BenchmarkPublic:
        """Return one benchmark."""
        return await self._client._send(self._calls.get(benchmark_id))

    async def update(self, benchmark_id: str, **fields: Any) -> BenchmarkPublic:
        """Change a benchmark (``description``, ``scorers``, ``on_completion``, ``gate``)."""
        return await self._client._send(self._calls.update(benchmark_id, fields))

    async def delete(self, benchmark_id: str) -> None:
        """Delete a benchmark and its cases."""
        await self._client._send(self._calls.delete(benchmark_id))

    async def add_case(
        self,
        benchmark_id: str,
        *,
        input: Any = None,
        expected: Any = None,
        name: str | None = None,
        variables: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        file_ids: Sequence[str] | None = None,
    ) -> CasePublic:
        """Add a case: an input (and variables, files), its expected output, tags."""
        fields = {
            "input": input,
            "expected": expected,
            "name": name,
            "variables": dict(variables or {}),
            "tags": list(tags or []),
            "file_ids": list(file_ids) if file_ids is not None else None,
        }
        return await self._client._send(self._calls.add_case(benchmark_id, fields))

    async def from_run(
        self,
        benchmark_id: str,
        run_id: str,
        *,
        name: str | None = None,
        tags: Sequence[str] | None = None,
    ) -> CasePublic:
        """Save a succeeded run as a case: its input, its result as the reference."""
        fields = {"run_id": run_id, "name": name, "tags": list(tags or [])}
        return await self._client._send(self._calls.from_run(benchmark_id, fields))

    async def cases(
        self, benchmark_id: str, *, limit: int | None = None, continuation_token: str | None = None
    ) -> Page[CasePublic]:
        """Return a page of a benchmark's cases, newest first."""
        return await self._client._send(self._calls.cases(benchmark_id, limit, continuation_token))

    async def get_case(self, benchmark_id: str, case_id: str) -> CasePublic:
        """Return one case."""
        return await self._client._send(self._calls.get_case(benchmark_id, case_id))

    async def delete_case(self, benchmark_id: str, case_id: str) -> None:
        """Delete a case."""
        await self._client._send(self._calls.delete_case(benchmark_id, case_id))

    async def run_suite(
        self,
        benchmark_id: str,
        *,
        revision_id: str | None = None,
        tags: Sequence[str] | None = None,
        concurrency: int | None = None,
    ) -> SuitePublic:
        """Start a suite run of the cases (with one of ``tags``) against a revision."""
        call = self._calls.run_suite(benchmark_id, revision_id, tags, concurrency)
        return await self._client._send(call)

    async def suites(
        self, benchmark_id: str, *, limit: int | None = None, continuation_token: str | None = None
    ) -> Page[SuitePublic]:
        """Return a page of a benchmark's suite runs, newest first."""
        return await self._client._send(self._calls.suites(benchmark_id, limit, continuation_token))

    async def get_suite(self, suite_id: str) -> SuitePublic:
        """Return a suite run as it is now."""
        return await self._client._send(self._calls.get_suite(suite_id, None))

    async def wait_suite(
        self, suite_id: str, *, timeout: float = 600.0, poll: float = 30.0
    ) -> SuitePublic:
        """Return the suite run once it has ended (or as it is after ``timeout`` seconds)."""
        deadline = Deadline(timeout)
        while True:
            wait = min(poll, deadline.remaining() or 0.0)
            suite = await self._client._send(self._calls.get_suite(suite_id, wait))
            if suite.status != "running" or deadline.expired:
                return suite

    async def results(
        self, suite_id: str, *, limit: int | None = None, continuation_token: str | None = None
    ) -> Page[ResultPublic]:
        """Return a page of a suite run's scored runs, newest first."""
        return await self._client._send(self._calls.results(suite_id, limit, continuation_token))

    async def all_results(self, suite_id: str) -> AsyncIterator[ResultPublic]:
        """Iterate over all of a suite run's scored runs, page after page."""
        async for row in self._client._items(self._calls.results(suite_id, 100, None)):
            yield row

    async def cancel(self, suite_id: str) -> SuitePublic:
        """Cancel a suite run: no case starts any more, its unfinished runs are cancelled."""
        return await self._client._send(self._calls.cancel(suite_id))

    async def score_run(self, run_id: str, benchmark_id: str) -> ResultPublic:
        """Score an ended run with a benchmark's scorers (no reference)."""
        return await self._client._send(self._calls.score_run(run_id, benchmark_id))

    async def scores(self, run_id: str, *, limit: int | None = None) -> Page[ResultPublic]:
        """Return a page of a run's scored results, newest first."""
        return await self._client._send(self._calls.scores(run_id, limit))


class AsyncQuality:
    """Quality figures of scored runs: an agent's, or one benchmark's, over time, per
    revision, and its A/B split."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls = QualityCalls(client)

    async def agent(
        self,
        agent: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        bucket: Literal["hour", "day"] = "day",
        kind: Literal["suite", "replay", "completion", "manual"] | None = None,
    ) -> QualityPublic:
        """Return an agent's quality figures over all its benchmarks (default: 30 days)."""
        return await self._client._send(self._calls.agent(agent, since, until, bucket, kind))

    async def benchmark(
        self,
        benchmark_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        bucket: Literal["hour", "day"] = "day",
        kind: Literal["suite", "replay", "completion", "manual"] | None = None,
    ) -> QualityPublic:
        """Return one benchmark's quality figures (default: the last 30 days)."""
        call = self._calls.benchmark(benchmark_id, since, until, bucket, kind)
        return await self._client._send(call)
