# Generated from _async.py by _generate_sync.py; do not edit.
# Loops yield item by item because async generators, their source, have no yield from.
# ruff: noqa: UP028
"""The synchronous client: sends the calls that ``_base`` builds, over ``httpx.Client``.

``_sync.py`` is generated from ``_async.py``: edit ``_async.py`` only, then run
``python -m runplane.client._generate_sync``.
"""

import time
from collections.abc import Iterator, Mapping, Sequence
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


class Client(BaseClient):
    """A synchronous client of a runplane server."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30,
        max_retries: int | None = None,
        on_retry: OnRetry | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Connect to ``base_url`` (default ``RUNPLANE_URL``) with ``api_key``.

        A call the server refuses for now (503, 429) or that loses its connection is sent
        again up to ``max_retries`` times (default ``RUNPLANE_MAX_RETRIES`` or 3; 0: never)
        when that cannot do anything twice; ``on_retry`` is told before each retry.
        """
        super().__init__(base_url, api_key, timeout, max_retries, on_retry)
        self._http = httpx.Client(transport=transport, limits=CONNECTION_LIMITS)
        self.runs = Runs(self)
        self.agents = Agents(self)
        self.approvals = Approvals(self)
        self.sites = Sites(self)
        self.files = Files(self)
        self.connections = Connections(self)
        self.tools = Tools(self)
        self.integrations = Integrations(self)
        self.keys = Keys(self)
        self.triggers = Triggers(self)
        self.webhooks = Webhooks(self)
        self.models = Models(self)
        self.usage = Usage(self)
        self.budgets = Budgets(self)
        self.governance = Governance(self)
        self.evidence = Evidence(self)
        self.activity = Activity(self)
        self.benchmarks = Benchmarks(self)
        self.quality = Quality(self)

    def health(self) -> dict[str, Any]:
        """Return the server's health (``{"status": "ok", ...}``)."""
        return self._send(self.health_call())

    def rotate_webhook_secret(self, grace_seconds: int | None = None) -> WebhookSecretPublic:
        """Make a new webhook signing secret (admin key) and return it: it is shown only now.

        For ``grace_seconds`` (default a day) webhooks are signed with the old secret too.
        """
        return self._send(self.webhook_secret_call(grace_seconds))

    def close(self) -> None:
        """Close the connections this client holds."""
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, call: Call[T]) -> T:
        attempts = self.attempts(call.request)
        while True:
            try:
                response = self._http.send(call.request)
            except httpx.TransportError as exc:
                pause = attempts.after_error(exc)
                if pause is None:
                    raise connection_error(exc, self.base_url) from exc
            else:
                pause = attempts.after_response(response)
                if pause is None:
                    return call.read(response)
            time.sleep(pause)

    def _items(self, call: Call[Page[T]]) -> Iterator[T]:
        """Send ``call``, then the calls of the pages after it; yield every item."""
        following: Call[Page[T]] | None = call
        while following is not None:
            page = self._send(following)
            for item in page.items:
                yield item
            following = next_page(following, page)


class Runs:
    """Create, read, follow and manage runs."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = RunCalls(client)

    def create(
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
        return self._client._send(call)

    def get(self, run_id: str) -> RunPublic:
        """Return a run."""
        return self._client._send(self._calls.get(run_id))

    def list(
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
        return self._client._send(self._calls.list(filters))

    def iter(
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
    ) -> Iterator[RunPublic]:
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
        for run in self._client._items(self._calls.list(filters)):
            yield run

    def steps(self, run_id: str) -> Page[StepPublic]:
        """Return a run's steps."""
        return self._client._send(self._calls.steps(run_id))

    def files(self, run_id: str) -> Page[FilePublic]:
        """Return the files a run's steps saved."""
        return self._client._send(FileCalls(self._client).of_run(run_id))

    def events(self, run_id: str, after: int = 0, limit: int | None = None) -> Page[EventPublic]:
        """Return a run's events with ``seq`` above ``after``."""
        return self._client._send(self._calls.events(run_id, after, limit))

    def stream(self, run_id: str, after: int = 0) -> Iterator[EventPublic]:
        """Follow a run's events live until its terminal event, reconnecting if cut off."""
        resume = StreamResume(run_id, after, self._client.base_url)
        http = self._client._http
        refusals = self._client.attempts(self._calls.stream(resume))
        while True:
            try:
                response = http.send(self._calls.stream(resume), stream=True)
            except httpx.TransportError as exc:
                time.sleep(resume.dropped(exc))
                continue
            cause: Exception | None = None
            pause: float | None = None
            try:
                if response.is_error:
                    response.read()
                    pause = refusals.after_response(response)
                    if pause is None:
                        raise error_from_response(response)
                else:
                    resume.connected()
                    for line in response.iter_lines():
                        event = resume.feed(line)
                        if event is not None:
                            yield event
                            if resume.ended:
                                return
            except httpx.TransportError as exc:
                cause = exc
            finally:
                response.close()
            time.sleep(resume.dropped(cause) if pause is None else pause)

    def wait(self, run_id: str, timeout: float | None = None) -> RunPublic:
        """Return the run once it has ended; raise ``TimeoutError`` after ``timeout`` seconds.

        A run that waits (``paused``, ``auth_required``) has not ended: this goes on waiting.
        """
        deadline = Deadline(timeout)
        while True:
            run = self._client._send(self._calls.get(run_id, wait=deadline.next_wait()))
            if is_terminal(run):
                return run
            if deadline.expired:
                raise wait_timed_out(run_id, deadline)
            time.sleep(deadline.pause())

    def cancel(self, run_id: str) -> RunPublic:
        """Ask a run to stop; it becomes ``canceled`` shortly after."""
        return self._client._send(self._calls.cancel(run_id))

    def repair(self, run_id: str, action: Literal["resume", "fail"], reason: str) -> RunPublic:
        """Resume a stalled or lost run on a live worker, or fail it, saying why (admin keys)."""
        return self._client._send(self._calls.repair(run_id, action, reason))

    def rerun(self, run_id: str, from_step: int | None = None) -> RunPublic:
        """Start a new run like this one, reusing its steps before ``from_step``."""
        return self._client._send(self._calls.rerun(run_id, from_step))

    def duplicate(self, run_id: str, **overrides: Any) -> RunPublic:
        """Start a new run from this one's configuration with ``input``/``variables``/``name``."""
        return self._client._send(self._calls.duplicate(run_id, overrides))

    def archive(self, run_id: str) -> RunPublic:
        """Hide a run from default listings."""
        return self._client._send(self._calls.archive(run_id, True))

    def unarchive(self, run_id: str) -> RunPublic:
        """Bring an archived run back into default listings."""
        return self._client._send(self._calls.archive(run_id, False))

    def delete(self, run_id: str, *, reason: str | None = None) -> DeletionRequestPublic | None:
        """Delete an ended run if the policy permits it (None: deleted, a tombstone kept);
        when the policy wants an approval, the deletion request that waits for it."""
        return self._client._send(delete_run(self._client, run_id, reason))

    def verify(self, run_id: str) -> VerifyResult:
        """Check a run's hash-chained event log."""
        return self._client._send(self._calls.verify(run_id))


class Agents:
    """Read agents and publish their revisions."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = AgentCalls(client)
        self._gates = GateCalls(client)

    def list(
        self, *, limit: int | None = None, continuation_token: str | None = None
    ) -> Page[AgentPublic]:
        """Return a page of agents."""
        return self._client._send(self._calls.list(limit, continuation_token))

    def get(self, agent: str) -> AgentPublic:
        """Return an agent, by id or name."""
        return self._client._send(self._calls.get(agent))

    def revisions(self, agent: str) -> Page[RevisionPublic]:
        """Return an agent's revisions."""
        return self._client._send(self._calls.revisions(agent))

    def create(self, definition: Mapping[str, Any] | StepAgentDefinition) -> StepAgentCreated:
        """Create a step agent from its definition; its first revision is a draft."""
        return self._client._send(self._calls.create(definition))

    def revise(
        self, agent: str, definition: Mapping[str, Any] | StepAgentDefinition
    ) -> RevisionPublic:
        """Save a new draft revision of a step agent (the same definition: the same one)."""
        return self._client._send(self._calls.revise(agent, definition))

    def revision(self, agent: str, revision: str) -> RevisionPublic:
        """Return one revision of an agent, with its definition (``config``)."""
        return self._client._send(self._calls.revision(agent, revision))

    def publish(
        self, agent: str, revision: str, *, override_reason: str | None = None
    ) -> RevisionPublic:
        """Make ``revision`` the one new runs of ``agent`` use, through its replay gate if the
        agent requires one (``override_reason``: an admin publishes over a failing gate)."""
        return self._client._send(self._calls.publish(agent, revision, override_reason))

    def start_gate(self, agent: str, revision: str) -> SuitePublic:
        """Start the revision's replay gate: recent production runs replayed and scored."""
        return self._client._send(self._gates.start(agent, revision))

    def gate(self, agent: str, revision: str) -> SuitePublic:
        """Return the revision's latest replay gate (its summary and verdict once ended)."""
        return self._client._send(self._gates.get(agent, revision))

    def wait_for_gate(
        self, agent: str, revision: str, *, timeout: float = 300.0, poll: float = 0.5
    ) -> SuitePublic:
        """Return the revision's latest replay gate once it has ended (or after ``timeout``)."""
        waited = 0.0
        while True:
            suite = self.gate(agent, revision)
            if suite.status != "running" or waited >= timeout:
                return suite
            time.sleep(poll)
            waited += poll

    def split(self, agent: str) -> SplitPublic:
        """Return the agent's A/B split (NotFound when it has none)."""
        return self._client._send(self._gates.split(agent))

    def set_split(
        self, agent: str, *, revision_a: str, revision_b: str, percent_b: float
    ) -> SplitPublic:
        """Send ``percent_b`` % of the agent's new runs that name no revision to revision B."""
        return self._client._send(self._gates.set_split(agent, revision_a, revision_b, percent_b))

    def remove_split(self, agent: str) -> None:
        """End the agent's A/B split: its new runs use the published revision again."""
        self._client._send(self._gates.remove_split(agent))


class Approvals:
    """The decisions runs wait for: list, read, approve, reject (by id or signed link)."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = ApprovalCalls(client)

    def list(
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
        return self._client._send(self._calls.list(filters))

    def iter(
        self, *, run_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> Iterator[ApprovalPublic]:
        """Iterate over every approval matching the filters, page after page."""
        filters = {"run_id": run_id, "status": status, "limit": limit}
        for approval in self._client._items(self._calls.list(filters)):
            yield approval

    def get(self, approval_id: str) -> ApprovalPublic:
        """Return an approval."""
        return self._client._send(self._calls.get(approval_id))

    def approve(
        self,
        approval_id: str,
        comment: str | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> ApprovalPublic:
        """Approve; a tool call may get edited ``arguments``. The run resumes at once."""
        return self.decide(approval_id, decision="approve", comment=comment, arguments=arguments)

    def reject(self, approval_id: str, comment: str | None = None) -> ApprovalPublic:
        """Reject; the agent gets a ``tool_rejected`` error (a rejected plan cancels the run)."""
        return self.decide(approval_id, decision="reject", comment=comment)

    def decide(self, approval_id: str, **body: Any) -> ApprovalPublic:
        """Decide with an ``ApprovalDecision`` body (``decision``, ``action``, ``comment`` …)."""
        return self._client._send(self._calls.decide(approval_id, body))

    def view_link(self, token: str) -> ApprovalPublic:
        """Return the approval a signed link (or its token) names, without using it up."""
        return self._client._send(self._calls.view_link(token))

    def decide_link(
        self,
        token: str,
        decision: Literal["approve", "reject"] | None = None,
        **body: Any,
    ) -> ApprovalPublic:
        """Decide by a signed link (or its token); it works once (again: ``ConflictError``)."""
        call = self._calls.decide_link(token, {"decision": decision, **body})
        return self._client._send(call)

    def new_link(self, approval_id: str) -> ApprovalLink:
        """Give a pending approval a new link (shown only now); the previous one stops working."""
        return self._client._send(self._calls.new_link(approval_id))

    def revoke_link(self, approval_id: str) -> ApprovalPublic:
        """Revoke a pending approval's link (using it is then a 410); it stays pending."""
        return self._client._send(self._calls.revoke_link(approval_id))


class Connections:
    """Users' credentials for integrations; storing one resumes the runs waiting for it."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = ConnectionCalls(client)

    def put(self, user_id: str, integration: str, secret: str) -> ConnectionPublic:
        """Store ``user_id``'s secret for ``integration``; ``resumed_runs`` lists the runs resumed."""
        return self._client._send(self._calls.put(user_id, integration, secret))

    def list(self, user_id: str) -> Page[ConnectionPublic]:
        """Return a user's connections (never their secrets)."""
        return self._client._send(self._calls.list(user_id))

    def delete(self, user_id: str, integration: str) -> None:
        """Revoke a user's credential for an integration."""
        self._client._send(self._calls.delete(user_id, integration))


class Models:
    """The model catalogue (the tenant's prices) and its model providers (admin keys change)."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = ModelCalls(client)

    def list(self) -> Page[ModelPublic]:
        """Return every model the tenant may name: built-in ones and its own entries."""
        return self._client._send(self._calls.list())

    def get(self, name: str) -> ModelPublic:
        """Return one model of the catalogue (the tenant's entry over the built-in one)."""
        return self._client._send(self._calls.get(name))

    def put(
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
        return self._client._send(self._calls.put(name, entry))

    def delete(self, name: str) -> None:
        """Remove the tenant's own entry for a model."""
        self._client._send(self._calls.delete(name))

    def list_providers(self) -> Page[ModelProviderPublic]:
        """Return the tenant's model providers (their keys masked)."""
        return self._client._send(self._calls.list_providers())

    def get_provider(self, name: str) -> ModelProviderPublic:
        """Return one of the tenant's model providers."""
        return self._client._send(self._calls.get_provider(name))

    def put_provider(
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
        return self._client._send(self._calls.put_provider(name, provider))

    def delete_provider(self, name: str) -> None:
        """Remove a model provider and its key."""
        self._client._send(self._calls.delete_provider(name))


class Keys:
    """The tenant's API keys and its audit log (admin keys only)."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = KeyCalls(client)

    def create(
        self,
        role: Literal["admin", "member", "approver", "viewer"] = "member",
        *,
        name: str | None = None,
        user_id: str | None = None,
    ) -> KeyCreated:
        """Create a key (bound to ``user_id`` if given); ``.key`` holds it, shown only now."""
        return self._client._send(self._calls.create(name, role, user_id))

    def list(self) -> Page[KeyPublic]:
        """Return the tenant's keys, live and revoked (never their secrets)."""
        return self._client._send(self._calls.list())

    def revoke(self, key_id: str) -> None:
        """Revoke a key: its next request is refused."""
        self._client._send(self._calls.revoke(key_id))

    def audit_events(self, limit: int | None = None) -> Page[AuditEventPublic]:
        """Return the newest page of the tenant's audit events (key changes and more)."""
        return self._client._send(self._calls.audit_events(limit))


class Evidence:
    """Evidence bundles of runs, exports built in the background, and signing keys.

    Check a bundle offline with ``runplane.client.verify_evidence`` (no server needed).
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = EvidenceCalls(client)

    def run_bundle(self, run_id: str) -> bytes:
        """Return the evidence bundle (a zip) of one ended run."""
        return self._client._send(self._calls.run_bundle(run_id))

    def export(
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
        return self._client._send(call)

    def get_export(self, export_id: str) -> ExportPublic:
        """Return an export: its status and progress."""
        return self._client._send(self._calls.get_export(export_id))

    def list_exports(
        self, *, limit: int = 20, continuation_token: str | None = None
    ) -> Page[ExportPublic]:
        """Return one page of the tenant's exports, newest first."""
        return self._client._send(self._calls.list_exports(limit, continuation_token))

    def wait_export(
        self, export_id: str, *, timeout: float | None = None, poll: float = 0.5
    ) -> ExportPublic:
        """Poll an export until it has succeeded or failed (``timeout`` seconds at most)."""
        deadline = Deadline(timeout)
        while True:
            export = self.get_export(export_id)
            if export.status in ("succeeded", "failed") or deadline.expired:
                return export
            time.sleep(poll)

    def download_export(self, export_id: str) -> bytes:
        """Return a finished export's zip."""
        return self._client._send(self._calls.download_export(export_id))

    def keys(self) -> Page[SigningKeyPublic]:
        """Return the tenant's signing keys (public halves), newest first."""
        return self._client._send(self._calls.keys())

    def rotate_key(self) -> SigningKeyPublic:
        """Make a new signing key and retire the old one (admin keys)."""
        return self._client._send(self._calls.rotate_key())


class Tools:
    """The tools agents may call."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = ToolCalls(client)

    def list(self) -> Page[ToolPublic]:
        """Return every tool, with the JSON Schema of its arguments."""
        return self._client._send(self._calls.tools())


class Integrations:
    """The integrations: named external systems and their tools."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = ToolCalls(client)

    def list(self) -> Page[IntegrationPublic]:
        """Return every integration, whether it needs a connection, and its tools."""
        return self._client._send(self._calls.integrations())


class Sites:
    """Sites: named collections of files that runs read."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = FileCalls(client)

    def create(self, name: str, description: str | None = None) -> SitePublic:
        """Create a site."""
        return self._client._send(self._calls.create_site(name, description))

    def list(self) -> Page[SitePublic]:
        """Return every site."""
        return self._client._send(self._calls.sites())

    def get(self, site: str) -> SitePublic:
        """Return a site, by id or name."""
        return self._client._send(self._calls.site(site))

    def delete(self, site: str) -> None:
        """Delete an empty site."""
        self._client._send(self._calls.delete_site(site))


class Files:
    """Files: upload into a site, list, read, download, delete."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = FileCalls(client)

    def upload(
        self, site: str, name: str, content: bytes, media_type: str | None = None
    ) -> FilePublic:
        """Upload ``content`` as a file called ``name`` into ``site``."""
        return self._client._send(self._calls.upload(site, name, content, media_type))

    def list(
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
        return self._client._send(self._calls.list(filters))

    def get(self, file_id: str) -> FilePublic:
        """Return a file's metadata."""
        return self._client._send(self._calls.get(file_id))

    def download(self, file_id: str) -> bytes:
        """Return a file's bytes."""
        return self._client._send(self._calls.content(file_id))

    def delete(self, file_id: str) -> None:
        """Delete a file (409 while it is on hold or a run uses it)."""
        self._client._send(self._calls.delete(file_id))

    def hold(self, file_id: str, reason: str) -> FilePublic:
        """Put a file on legal hold (admin keys); return it, with its ``hold``."""
        return self._client._send(self._calls.hold(file_id, reason))

    def release(self, file_id: str) -> FilePublic:
        """Release a file's legal hold (admin keys); return it."""
        return self._client._send(self._calls.release(file_id))


class Triggers:
    """Schedules and signed webhooks that start runs of an agent."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = TriggerCalls(client)

    def create(
        self, kind: Literal["schedule", "webhook", "upload"], agent: str, **fields: Any
    ) -> TriggerPublic:
        """Make a trigger (``schedule=``, ``mapping=``, ``site_id=``, ``glob=``, ``input=`` …); a
        webhook trigger's ``.secret`` is shown only in this answer."""
        return self._client._send(self._calls.create({**fields, "kind": kind, "agent_id": agent}))

    def list(
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
        return self._client._send(self._calls.list(filters))

    def get(self, trigger_id: str) -> TriggerPublic:
        """Return a trigger, with a schedule's next fire times."""
        return self._client._send(self._calls.get(trigger_id))

    def update(self, trigger_id: str, **fields: Any) -> TriggerPublic:
        """Change a trigger's input, variables, revision, schedule or mapping."""
        return self._client._send(self._calls.update(trigger_id, fields))

    def enable(self, trigger_id: str) -> TriggerPublic:
        """Enable a trigger."""
        return self._client._send(self._calls.act(trigger_id, "enable"))

    def disable(self, trigger_id: str) -> TriggerPublic:
        """Disable a trigger: it starts no run until enabled."""
        return self._client._send(self._calls.act(trigger_id, "disable"))

    def pause(self, trigger_id: str) -> TriggerPublic:
        """Pause a schedule."""
        return self._client._send(self._calls.act(trigger_id, "pause"))

    def resume(self, trigger_id: str) -> TriggerPublic:
        """Resume a paused schedule from its next tick after now."""
        return self._client._send(self._calls.act(trigger_id, "resume"))

    def delete(self, trigger_id: str) -> None:
        """Delete a trigger; the runs it started stay."""
        self._client._send(self._calls.delete(trigger_id))


class Webhooks:
    """Lifecycle webhooks: the tenant's endpoints and the outbox's deliveries (admin keys)."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = WebhookCalls(client)

    def create_endpoint(
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
        return self._client._send(self._calls.create_endpoint(body))

    def list_endpoints(self) -> Page[WebhookEndpointPublic]:
        """Return the tenant's endpoints, oldest first."""
        return self._client._send(self._calls.list_endpoints())

    def get_endpoint(self, endpoint_id: str) -> WebhookEndpointPublic:
        """Return one endpoint."""
        return self._client._send(self._calls.get_endpoint(endpoint_id))

    def update_endpoint(self, endpoint_id: str, **changes: Any) -> WebhookEndpointPublic:
        """Change an endpoint (``url``, ``events``, ``secret``, ``enabled``, ``description``)."""
        return self._client._send(self._calls.update_endpoint(endpoint_id, changes))

    def delete_endpoint(self, endpoint_id: str) -> None:
        """Remove an endpoint."""
        self._client._send(self._calls.delete_endpoint(endpoint_id))

    def deliveries(
        self,
        *,
        endpoint_id: str | None = None,
        run_id: str | None = None,
        status: Literal["pending", "delivered", "failed"] | None = None,
        limit: int | None = None,
    ) -> Page[WebhookDeliveryPublic]:
        """Return the newest page of deliveries, filtered by endpoint, run and status."""
        params = {"endpoint_id": endpoint_id, "run_id": run_id, "status": status, "limit": limit}
        return self._client._send(self._calls.deliveries(params))

    def delivery(self, delivery_id: str) -> WebhookDeliveryPublic:
        """Return one delivery with its attempts."""
        return self._client._send(self._calls.delivery(delivery_id))

    def redeliver(self, delivery_id: str) -> WebhookDeliveryPublic:
        """Send a delivery again, with the same ``webhook-id``."""
        return self._client._send(self._calls.redeliver(delivery_id))


class Usage:
    """Model usage: the tenant's totals over time, and a run's cost before it starts."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = UsageCalls(client)

    def totals(
        self,
        group_by: Literal["agent", "model", "day"] = "agent",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> UsageTotals:
        """Return tokens and credits of the tenant's model calls per agent, model or day."""
        return self._client._send(self._calls.totals(group_by, since, until))

    def estimate(self, agent: str, input: Any = None, **fields: Any) -> RunEstimate:
        """Return the credits a run of ``agent`` on ``input`` would cost; no run is made."""
        body = {**fields, "agent_id": agent, "input": input}
        return self._client._send(self._calls.estimate(body))


class Budgets:
    """Budgets of model usage: the tenant's, an agent's (``agent=``) and a run's own."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = BudgetCalls(client)

    def list(self) -> list[BudgetPublic]:
        """Return the tenant's budget and its agents'."""
        return self._client._send(self._calls.list())

    def get(self, agent: str | None = None) -> BudgetPublic:
        """Return the tenant's budget, or an agent's."""
        return self._client._send(self._calls.get(agent))

    def set(self, agent: str | None = None, **limits: Any) -> BudgetPublic:
        """Set the tenant's (or an agent's) ``credits``, ``tokens``, ``hard_ceiling``, ``period``."""
        return self._client._send(self._calls.put(agent, limits))

    def delete(self, agent: str | None = None) -> None:
        """Remove the tenant's (or an agent's) budget."""
        self._client._send(self._calls.delete(agent))

    def set_run(self, run_id: str, **limits: Any) -> RunPublic:
        """Replace a run's own budget; a run it paused resumes."""
        return self._client._send(self._calls.set_run(run_id, limits))

    def approve(
        self, run_id: str, *, credits: float | None = None, tokens: int | None = None
    ) -> RunPublic:
        """Approve a budget-paused run's overrun by this much; it resumes from the same step."""
        body = {"credits": credits, "tokens": tokens}
        return self._client._send(self._calls.approve(run_id, body))


class Governance:
    """The governance policy and its versions, legal holds, deletion requests, tombstones."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = GovernanceCalls(client)

    def policy(self, version: int | None = None) -> PolicyVersionPublic:
        """Return the policy in force, or one version of it."""
        return self._client._send(self._calls.policy(version))

    def set_policy(
        self,
        document: Mapping[str, Any],
        *,
        comment: str | None = None,
        base_version: int | None = None,
    ) -> PolicyVersionPublic:
        """Store a new version of the policy (admin); a stale ``base_version`` is a 409."""
        return self._client._send(self._calls.set_policy(document, comment, base_version))

    def policy_versions(
        self, *, limit: int | None = None, before: int | None = None
    ) -> PolicyVersionPage:
        """Return a page of the policy's versions, newest first."""
        return self._client._send(self._calls.versions(limit, before))

    def hold(
        self,
        reason: str,
        *,
        run_id: str | None = None,
        agent_id: str | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> HoldPublic:
        """Put a run, an agent's runs, or a query's runs on legal hold."""
        fields = {"reason": reason, "run_id": run_id, "agent_id": agent_id, "query": query}
        return self._client._send(self._calls.hold(fields))

    def holds(
        self, *, include_released: bool = False, limit: int | None = None
    ) -> Page[HoldPublic]:
        """Return a page of the tenant's holds (active ones unless asked), newest first."""
        return self._client._send(self._calls.holds(include_released, limit))

    def get_hold(self, hold_id: str) -> HoldPublic:
        """Return one hold."""
        return self._client._send(self._calls.get_hold(hold_id))

    def release_hold(self, hold_id: str) -> HoldPublic:
        """Release a hold."""
        return self._client._send(self._calls.release(hold_id))

    def deletions(
        self, *, status: str | None = None, limit: int | None = None
    ) -> Page[DeletionRequestPublic]:
        """Return a page of deletion requests, newest first."""
        return self._client._send(self._calls.deletions(status, limit))

    def approve_deletion(
        self, request_id: str, *, comment: str | None = None
    ) -> DeletionRequestPublic:
        """Approve a deletion request of another key: the run is deleted."""
        return self._client._send(self._calls.decide(request_id, True, comment))

    def reject_deletion(
        self, request_id: str, *, comment: str | None = None
    ) -> DeletionRequestPublic:
        """Reject a deletion request: the run stays."""
        return self._client._send(self._calls.decide(request_id, False, comment))

    def tombstones(self, *, limit: int | None = None) -> Page[TombstonePublic]:
        """Return a page of what is kept of deleted runs, most recently deleted first."""
        return self._client._send(self._calls.tombstones(limit))


class Activity:
    """The activity log (admin keys): who did what, and when.

    Filters, as keywords: ``actor`` (a key id, or ``trigger:…``, ``cron:…``, ``run:…``,
    ``link:…``, ``system``), ``actor_type``, ``resource``, ``resource_id``, ``action``
    (exact, or a prefix ending in ``.``), ``since`` and ``until`` (datetimes or RFC 3339).
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = ActivityCalls(client)

    def list(
        self, *, limit: int = 50, continuation_token: str | None = None, **filters: Any
    ) -> Page[AuditEventPublic]:
        """Return one page of matching activity, newest first."""
        query = {**filters, "limit": limit, "continuation_token": continuation_token}
        return self._client._send(self._calls.list(query))

    def iter(self, *, limit: int = 500, **filters: Any) -> Iterator[AuditEventPublic]:
        """Iterate over all matching activity, newest first, page after page."""
        for row in self._client._items(self._calls.list({**filters, "limit": limit})):
            yield row

    def export(
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
            response = self._client._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise connection_error(exc, self._client.base_url) from exc
        written = 0
        try:
            if response.is_error:
                response.read()
                raise error_from_response(response)
            with writable(path) as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
                    written += len(chunk)
                    if on_progress is not None:
                        on_progress(written)
        finally:
            response.close()
        return written


class Benchmarks:
    """Benchmarks of agents: their cases and scorers, suite runs against a revision, and
    the scores of single runs."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = BenchmarkCalls(client)

    def create(
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
        return self._client._send(self._calls.create(fields))

    def list(
        self,
        *,
        agent_id: str | None = None,
        limit: int | None = None,
        continuation_token: str | None = None,
    ) -> Page[BenchmarkPublic]:
        """Return a page of benchmarks (of one agent), newest first."""
        return self._client._send(self._calls.list(agent_id, limit, continuation_token))

    def get(self, benchmark_id: str) -> BenchmarkPublic:
        """Return one benchmark."""
        return self._client._send(self._calls.get(benchmark_id))

    def update(self, benchmark_id: str, **fields: Any) -> BenchmarkPublic:
        """Change a benchmark (``description``, ``scorers``, ``on_completion``, ``gate``)."""
        return self._client._send(self._calls.update(benchmark_id, fields))

    def delete(self, benchmark_id: str) -> None:
        """Delete a benchmark and its cases."""
        self._client._send(self._calls.delete(benchmark_id))

    def add_case(
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
        return self._client._send(self._calls.add_case(benchmark_id, fields))

    def from_run(
        self,
        benchmark_id: str,
        run_id: str,
        *,
        name: str | None = None,
        tags: Sequence[str] | None = None,
    ) -> CasePublic:
        """Save a succeeded run as a case: its input, its result as the reference."""
        fields = {"run_id": run_id, "name": name, "tags": list(tags or [])}
        return self._client._send(self._calls.from_run(benchmark_id, fields))

    def cases(
        self, benchmark_id: str, *, limit: int | None = None, continuation_token: str | None = None
    ) -> Page[CasePublic]:
        """Return a page of a benchmark's cases, newest first."""
        return self._client._send(self._calls.cases(benchmark_id, limit, continuation_token))

    def get_case(self, benchmark_id: str, case_id: str) -> CasePublic:
        """Return one case."""
        return self._client._send(self._calls.get_case(benchmark_id, case_id))

    def delete_case(self, benchmark_id: str, case_id: str) -> None:
        """Delete a case."""
        self._client._send(self._calls.delete_case(benchmark_id, case_id))

    def run_suite(
        self,
        benchmark_id: str,
        *,
        revision_id: str | None = None,
        tags: Sequence[str] | None = None,
        concurrency: int | None = None,
    ) -> SuitePublic:
        """Start a suite run of the cases (with one of ``tags``) against a revision."""
        call = self._calls.run_suite(benchmark_id, revision_id, tags, concurrency)
        return self._client._send(call)

    def suites(
        self, benchmark_id: str, *, limit: int | None = None, continuation_token: str | None = None
    ) -> Page[SuitePublic]:
        """Return a page of a benchmark's suite runs, newest first."""
        return self._client._send(self._calls.suites(benchmark_id, limit, continuation_token))

    def get_suite(self, suite_id: str) -> SuitePublic:
        """Return a suite run as it is now."""
        return self._client._send(self._calls.get_suite(suite_id, None))

    def wait_suite(
        self, suite_id: str, *, timeout: float = 600.0, poll: float = 30.0
    ) -> SuitePublic:
        """Return the suite run once it has ended (or as it is after ``timeout`` seconds)."""
        deadline = Deadline(timeout)
        while True:
            wait = min(poll, deadline.remaining() or 0.0)
            suite = self._client._send(self._calls.get_suite(suite_id, wait))
            if suite.status != "running" or deadline.expired:
                return suite

    def results(
        self, suite_id: str, *, limit: int | None = None, continuation_token: str | None = None
    ) -> Page[ResultPublic]:
        """Return a page of a suite run's scored runs, newest first."""
        return self._client._send(self._calls.results(suite_id, limit, continuation_token))

    def all_results(self, suite_id: str) -> Iterator[ResultPublic]:
        """Iterate over all of a suite run's scored runs, page after page."""
        for row in self._client._items(self._calls.results(suite_id, 100, None)):
            yield row

    def cancel(self, suite_id: str) -> SuitePublic:
        """Cancel a suite run: no case starts any more, its unfinished runs are cancelled."""
        return self._client._send(self._calls.cancel(suite_id))

    def score_run(self, run_id: str, benchmark_id: str) -> ResultPublic:
        """Score an ended run with a benchmark's scorers (no reference)."""
        return self._client._send(self._calls.score_run(run_id, benchmark_id))

    def scores(self, run_id: str, *, limit: int | None = None) -> Page[ResultPublic]:
        """Return a page of a run's scored results, newest first."""
        return self._client._send(self._calls.scores(run_id, limit))


class Quality:
    """Quality figures of scored runs: an agent's, or one benchmark's, over time, per
    revision, and its A/B split."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = QualityCalls(client)

    def agent(
        self,
        agent: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        bucket: Literal["hour", "day"] = "day",
        kind: Literal["suite", "replay", "completion", "manual"] | None = None,
    ) -> QualityPublic:
        """Return an agent's quality figures over all its benchmarks (default: 30 days)."""
        return self._client._send(self._calls.agent(agent, since, until, bucket, kind))

    def benchmark(
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
        return self._client._send(call)
