"""What the sync and async clients share: requests, decoding, errors, paging, SSE, waits.

Nothing here does I/O. Each API call is built once as a ``Call`` (a request and the
function that reads its answer); ``Client`` and ``AsyncClient`` only send them.
"""

import os
import time
import uuid
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar, cast
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter
from pydantic import ValidationError as SchemaError

from runplane.client._errors import (
    RunplaneAPIError,
    RunplaneConnectionError,
    connection_error,
    error_from_response,
)
from runplane.client._retry import Attempts, OnRetry, policy_from
from runplane.schemas import (
    AgentPublic,
    ApprovalDecision,
    ApprovalLink,
    ApprovalPublic,
    AuditEventPublic,
    ConnectionPublic,
    ConnectionPut,
    EventPublic,
    FilePublic,
    IntegrationPublic,
    KeyCreate,
    KeyCreated,
    KeyPublic,
    Page,
    RevisionPublic,
    RunCreate,
    RunDuplicate,
    RunPublic,
    RunRerun,
    SiteCreate,
    SitePublic,
    StepPublic,
    ToolPublic,
    VerifyResult,
    WebhookDeliveryPublic,
    WebhookEndpointCreate,
    WebhookEndpointPublic,
    WebhookEndpointUpdate,
)
from runplane.schemas.models import ModelProviderPublic, ModelProviderPut, ModelPublic, ModelPut
from runplane.schemas.steps import StepAgentCreated, StepAgentDefinition
from runplane.schemas.triggers import TriggerCreate, TriggerPatch, TriggerPublic
from runplane.schemas.webhooks import WebhookSecretPublic
from runplane.schemas.wire import ErrorDetail

T = TypeVar("T")

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled"})
MAX_SERVER_WAIT = 60.0
# The server sends a keep-alive comment every 15 s; a stream silent this long is dead.
STREAM_READ_TIMEOUT = 120.0
RECONNECT_DELAYS = (0.1, 0.5, 1.0)
# A server or proxy closes idle connections (uvicorn's default: after 5 s; runplane's
# own waits 75 s); one the client reused just then would break under a request it may
# not send again (a POST without an Idempotency-Key), so the client drops them first.
CONNECTION_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=20, keepalive_expiry=3.0
)
POLL_PAUSE = 0.2

# -- reading answers --------------------------------------------------------------------


@cache
def _adapter(type_: Hashable) -> TypeAdapter[Any]:
    return TypeAdapter(cast(Any, type_))


def raise_for_error(response: httpx.Response) -> None:
    """Raise the typed exception of an error response; do nothing for a success."""
    if response.is_error:
        raise error_from_response(response)


def decode(response: httpx.Response, type_: type[T]) -> T:
    """Check a (read) response and validate its JSON body as ``type_``."""
    raise_for_error(response)
    try:
        value: T = _adapter(cast(Hashable, type_)).validate_json(response.content)
    except SchemaError as exc:
        details = [
            ErrorDetail(name=".".join(map(str, e["loc"])), value=e["msg"]) for e in exc.errors()
        ]
        raise RunplaneAPIError(
            response.status_code,
            f"the server's answer is not a valid {getattr(type_, '__name__', type_)}",
            details,
        ) from exc
    return value


def reader(type_: type[T]) -> Callable[[httpx.Response], T]:
    """Return the function that decodes a response into ``type_``."""
    return lambda response: decode(response, type_)


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request to send, and how to read its answer."""

    request: httpx.Request
    read: Callable[[httpx.Response], T]


def next_page(call: Call[Page[T]], page: Page[T]) -> Call[Page[T]] | None:
    """Return the call for the page after ``page``, or ``None`` on the last one."""
    token = page.continuation_token
    if not token or token == call.request.url.params.get("continuation_token"):
        return None
    request = call.request
    url = request.url.copy_set_param("continuation_token", token)
    follow = httpx.Request(
        request.method, url, headers=request.headers, extensions=request.extensions
    )
    return Call(follow, call.read)


# -- waiting ----------------------------------------------------------------------------


class Deadline:
    """The moment a wait gives up (``None`` seconds: never), and the pace of its polls."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._ends = None if seconds is None else time.monotonic() + seconds
        self._asked = 0.0
        self._asked_at = time.monotonic()

    def remaining(self) -> float | None:
        """Seconds left (never below zero), or ``None`` for no deadline."""
        return None if self._ends is None else max(0.0, self._ends - time.monotonic())

    @property
    def expired(self) -> bool:
        """Tell whether the deadline has passed."""
        return self.remaining() == 0.0

    def next_wait(self) -> float:
        """How long the next held request may ask the server to wait (asked from now)."""
        left = self.remaining()
        self._asked = MAX_SERVER_WAIT if left is None else round(min(left, MAX_SERVER_WAIT), 3)
        self._asked_at = time.monotonic()
        return self._asked

    def pause(self) -> float:
        """Seconds to rest before the next poll, when the server did not hold the last one."""
        if time.monotonic() - self._asked_at >= self._asked / 2:
            return 0.0
        left = self.remaining()
        return POLL_PAUSE if left is None else min(POLL_PAUSE, left)


def is_terminal(run: RunPublic) -> bool:
    """Tell whether a run has ended (succeeded, failed or canceled; not paused, auth_required)."""
    return run.status in TERMINAL_STATUSES


def wait_timed_out(run_id: str, deadline: Deadline) -> TimeoutError:
    """The error of a wait whose deadline passed before the run ended."""
    return TimeoutError(f"run {run_id} did not end within {deadline.seconds} seconds")


# -- server-sent events -----------------------------------------------------------------


class SSEParser:
    """Turns the lines of a ``text/event-stream``, fed one at a time, into events."""

    def __init__(self) -> None:
        self.last_event_id: str | None = None
        self.event_type: str | None = None
        self._data: list[str] = []

    def feed(self, line: str) -> EventPublic | None:
        """Take one line (without its line break); return an event when one is complete."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self.event_type = value
        elif field == "id" and "\0" not in value:
            self.last_event_id = value
        return None

    def parse(self, lines: Iterable[str]) -> Iterator[EventPublic]:
        """Feed many lines; yield the events they complete."""
        for line in lines:
            event = self.feed(line)
            if event is not None:
                yield event

    def _dispatch(self) -> EventPublic | None:
        data, self._data, self.event_type = "\n".join(self._data), [], None
        if not data:
            return None
        try:
            return EventPublic.model_validate_json(data)
        except SchemaError as exc:
            raise RunplaneAPIError(200, f"the stream sent an invalid event: {data[:200]}") from exc


def is_terminal_event(event: EventPublic) -> bool:
    """Tell whether an event ends its run's stream (a status that is final)."""
    return event.type == "status" and event.data.get("status") in TERMINAL_STATUSES


class StreamResume:
    """Where a followed stream stands across reconnects, and when to give up."""

    def __init__(self, run_id: str, after: int, base_url: str) -> None:
        self.run_id = run_id
        self.last_seq = after
        self.ended = False
        self.resumed = False
        self._connected = False
        self._parser = SSEParser()
        self._base_url = base_url
        self._failures = 0

    def connected(self) -> None:
        """Record that the server answered (a later failure is a drop, not unreachability)."""
        self._connected = True
        self._parser = SSEParser()

    def feed(self, line: str) -> EventPublic | None:
        """Take one line of the stream; return the event it completes if that one is new."""
        event = self._parser.feed(line)
        return event if event is not None and self.accept(event) else None

    def accept(self, event: EventPublic) -> bool:
        """Record an event; tell whether it is new (a replayed one is skipped)."""
        if event.seq <= self.last_seq:
            return False
        self.last_seq, self._failures = event.seq, 0
        self.ended = is_terminal_event(event)
        return True

    def dropped(self, cause: Exception | None) -> float:
        """Count a connection lost before the end; return the delay before reconnecting."""
        if isinstance(cause, httpx.TransportError) and not self._connected:
            raise connection_error(cause, self._base_url) from cause
        self.resumed = True
        if self._failures >= len(RECONNECT_DELAYS):
            raise RunplaneConnectionError(
                f"the event stream of {self.run_id} at {self._base_url} broke "
                f"{self._failures + 1} times in a row before the run ended",
                self._base_url,
            ) from cause
        delay = RECONNECT_DELAYS[self._failures]
        self._failures += 1
        return delay


# -- building requests ------------------------------------------------------------------


def _segment(value: str) -> str:
    return quote(str(value), safe="")


class BaseClient:
    """Configuration and request building shared by ``Client`` and ``AsyncClient``."""

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        timeout: float,
        max_retries: int | None = None,
        on_retry: OnRetry | None = None,
    ) -> None:
        self.base_url = (base_url or os.environ.get("RUNPLANE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key or os.environ.get("RUNPLANE_API_KEY") or None
        self.timeout = timeout
        self.retry_policy = policy_from(max_retries)
        self.on_retry = on_retry

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    def build_request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str | None] | None = None,
        read_timeout: float | None = None,
        files: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        """Build a request: auth, JSON or multipart body, params and headers without ``None``."""
        sent = {"Accept": "application/json", "User-Agent": "runplane-python"}
        if self.api_key:
            sent["Authorization"] = f"Bearer {self.api_key}"
        sent.update({k: v for k, v in (headers or {}).items() if v is not None})
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        timeout = httpx.Timeout(self.timeout, read=read_timeout or self.timeout)
        return httpx.Request(
            method,
            self.base_url + path,
            params=query,
            json=json,
            files=files,
            data=data,
            headers=sent,
            extensions={"timeout": timeout.as_dict()},
        )

    def attempts(self, request: httpx.Request) -> Attempts:
        """Start counting the attempts at ``request`` under this client's retry policy."""
        return self.retry_policy.start(request, self.on_retry)

    def call(self, method: str, path: str, type_: type[T], **options: Any) -> Call[T]:
        """Build a call whose answer is read as ``type_``."""
        return Call(self.build_request(method, path, **options), reader(type_))

    def health_call(self) -> Call[dict[str, Any]]:
        """``GET /healthz``."""
        return self.call("GET", "/healthz", dict[str, Any])

    def webhook_secret_call(self, grace_seconds: int | None) -> Call[WebhookSecretPublic]:
        """``POST /v1/webhook-secret``."""
        body = {} if grace_seconds is None else {"grace_seconds": grace_seconds}
        return self.call("POST", "/v1/webhook-secret", WebhookSecretPublic, json=body)

    def held_timeout(self, wait: float | None) -> float | None:
        """The read timeout of a request the server may hold for ``wait`` seconds."""
        return None if not wait else self.timeout + wait


def _param(value: Any) -> str | int | float:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int | float) else str(value)


def new_idempotency_key() -> str:
    """A fresh ``Idempotency-Key``: a create sent again with it makes nothing new."""
    return f"rp-{uuid.uuid4().hex}"


def _body(model: Any) -> dict[str, Any]:
    return dict(model.model_dump(mode="json", exclude_unset=True))


def _definition(definition: Mapping[str, Any] | StepAgentDefinition) -> dict[str, Any]:
    """A step agent's definition as sent: the server checks it whole."""
    if isinstance(definition, StepAgentDefinition):
        return dict(definition.model_dump(mode="json", by_alias=True, exclude_unset=True))
    return dict(definition)


class RunCalls:
    """The calls of the runs API, built but not sent."""

    def __init__(self, base: BaseClient) -> None:
        self._base = base

    def create(
        self,
        agent: str,
        input: Any,
        *,
        wait: float | None,
        idempotency_key: str | None,
        fields: Mapping[str, Any],
    ) -> Call[RunPublic]:
        """``POST /v1/runs``: validated locally against ``RunCreate`` first."""
        given = {"agent_id": agent, "input": input, "wait": wait, **fields}
        body = RunCreate.model_validate({k: v for k, v in given.items() if v is not None})
        return self._base.call(
            "POST",
            "/v1/runs",
            RunPublic,
            json=_body(body),
            # Always one: a create is then safe to send again after a 503 or a broken
            # connection (the server answers a repeat with the run the first one made).
            headers={"Idempotency-Key": idempotency_key or new_idempotency_key()},
            read_timeout=self._base.held_timeout(wait),
        )

    def get(self, run_id: str, wait: float | None = None) -> Call[RunPublic]:
        """``GET /v1/runs/{id}``, held up to ``wait`` seconds if given."""
        return self._base.call(
            "GET",
            f"/v1/runs/{_segment(run_id)}",
            RunPublic,
            params={"wait": wait},
            read_timeout=self._base.held_timeout(wait),
        )

    def list(self, filters: Mapping[str, Any]) -> Call[Page[RunPublic]]:
        """``GET /v1/runs`` with filters, ``limit`` and ``continuation_token``."""
        return self._base.call("GET", "/v1/runs", Page[RunPublic], params=filters)

    def steps(self, run_id: str) -> Call[Page[StepPublic]]:
        """``GET /v1/runs/{id}/steps``."""
        return self._base.call("GET", f"/v1/runs/{_segment(run_id)}/steps", Page[StepPublic])

    def events(self, run_id: str, after: int, limit: int | None) -> Call[Page[EventPublic]]:
        """``GET /v1/runs/{id}/events`` after a sequence number."""
        path = f"/v1/runs/{_segment(run_id)}/events"
        params = {"after": after, "limit": limit}
        return self._base.call("GET", path, Page[EventPublic], params=params)

    def stream(self, resume: StreamResume) -> httpx.Request:
        """``GET /v1/runs/{id}/stream`` from where ``resume`` stands."""
        last_id = str(resume.last_seq) if resume.resumed else None
        return self._base.build_request(
            "GET",
            f"/v1/runs/{_segment(resume.run_id)}/stream",
            params={"after": resume.last_seq},
            headers={
                "Accept": "text/event-stream",
                "Cache-Control": "no-cache",
                "Last-Event-ID": last_id,
            },
            read_timeout=STREAM_READ_TIMEOUT,
        )

    def cancel(self, run_id: str) -> Call[RunPublic]:
        """``POST /v1/runs/{id}/cancel``."""
        return self._base.call("POST", f"/v1/runs/{_segment(run_id)}/cancel", RunPublic)

    def repair(self, run_id: str, action: str, reason: str) -> Call[RunPublic]:
        """``POST /v1/runs/{id}/repair``: resume a stalled or lost run elsewhere, or fail it."""
        body = {"action": action, "reason": reason}
        return self._base.call("POST", f"/v1/runs/{_segment(run_id)}/repair", RunPublic, json=body)

    def rerun(self, run_id: str, from_step: int | None) -> Call[RunPublic]:
        """``POST /v1/runs/{id}/rerun``, reusing the steps before ``from_step``."""
        body = RunRerun(from_step=from_step) if from_step is not None else RunRerun()
        path = f"/v1/runs/{_segment(run_id)}/rerun"
        headers = {"Idempotency-Key": new_idempotency_key()}
        return self._base.call("POST", path, RunPublic, json=_body(body), headers=headers)

    def duplicate(self, run_id: str, overrides: Mapping[str, Any]) -> Call[RunPublic]:
        """``POST /v1/runs/{id}/duplicate`` with overrides of the original."""
        body = RunDuplicate.model_validate(dict(overrides))
        path = f"/v1/runs/{_segment(run_id)}/duplicate"
        return self._base.call(
            "POST",
            path,
            RunPublic,
            json=_body(body),
            headers={"Idempotency-Key": new_idempotency_key()},
            read_timeout=self._base.held_timeout(body.wait),
        )

    def archive(self, run_id: str, archived: bool) -> Call[RunPublic]:
        """``POST /v1/runs/{id}/archive`` (or ``/unarchive``)."""
        action = "archive" if archived else "unarchive"
        return self._base.call("POST", f"/v1/runs/{_segment(run_id)}/{action}", RunPublic)

    def verify(self, run_id: str) -> Call[VerifyResult]:
        """``GET /v1/runs/{id}/verify``."""
        return self._base.call("GET", f"/v1/runs/{_segment(run_id)}/verify", VerifyResult)


# How long the server may hold a publish while its replay gate runs.
GATE_WAIT_SECONDS = 130.0


class AgentCalls:
    """The calls of the agents API, built but not sent."""

    def __init__(self, base: BaseClient) -> None:
        self._base = base

    def list(self, limit: int | None, continuation_token: str | None) -> Call[Page[AgentPublic]]:
        """``GET /v1/agents``."""
        params = {"limit": limit, "continuation_token": continuation_token}
        return self._base.call("GET", "/v1/agents", Page[AgentPublic], params=params)

    def get(self, agent: str) -> Call[AgentPublic]:
        """``GET /v1/agents/{id}`` (an id or a unique name)."""
        return self._base.call("GET", f"/v1/agents/{_segment(agent)}", AgentPublic)

    def revisions(self, agent: str) -> Call[Page[RevisionPublic]]:
        """``GET /v1/agents/{id}/revisions``."""
        path = f"/v1/agents/{_segment(agent)}/revisions"
        return self._base.call("GET", path, Page[RevisionPublic])

    def create(self, definition: Mapping[str, Any] | StepAgentDefinition) -> Call[StepAgentCreated]:
        """``POST /v1/agents``: a step agent and its first draft revision."""
        body = _definition(definition)
        return self._base.call("POST", "/v1/agents", StepAgentCreated, json=body)

    def revise(
        self, agent: str, definition: Mapping[str, Any] | StepAgentDefinition
    ) -> Call[RevisionPublic]:
        """``POST /v1/agents/{id}/revisions``: a new draft revision of a step agent."""
        path = f"/v1/agents/{_segment(agent)}/revisions"
        return self._base.call("POST", path, RevisionPublic, json=_definition(definition))

    def revision(self, agent: str, revision: str) -> Call[RevisionPublic]:
        """``GET /v1/agents/{id}/revisions/{rev}``."""
        path = f"/v1/agents/{_segment(agent)}/revisions/{_segment(revision)}"
        return self._base.call("GET", path, RevisionPublic)

    def publish(
        self, agent: str, revision: str, override_reason: str | None = None
    ) -> Call[RevisionPublic]:
        """``POST /v1/agents/{id}/revisions/{rev}/publish`` (over a failing gate: a reason)."""
        path = f"/v1/agents/{_segment(agent)}/revisions/{_segment(revision)}/publish"
        body = None if override_reason is None else {"override_reason": override_reason}
        # A publish may run the agent's replay gate first and wait for it (up to 120 s).
        held = self._base.held_timeout(GATE_WAIT_SECONDS)
        return self._base.call("POST", path, RevisionPublic, json=body, read_timeout=held)


def _decision(fields: Mapping[str, Any]) -> dict[str, Any]:
    """An ``ApprovalDecision`` body, validated locally, without the fields not given."""
    given = {k: v for k, v in fields.items() if v is not None}
    return _body(ApprovalDecision.model_validate(given))


class ApprovalCalls:
    """The calls of the approvals API (and of signed approval links), built but not sent."""

    def __init__(self, base: BaseClient) -> None:
        self._base = base

    def list(self, filters: Mapping[str, Any]) -> Call[Page[ApprovalPublic]]:
        """``GET /v1/approvals`` with ``run_id``, ``status``, ``limit``, ``continuation_token``."""
        return self._base.call("GET", "/v1/approvals", Page[ApprovalPublic], params=filters)

    def get(self, approval_id: str) -> Call[ApprovalPublic]:
        """``GET /v1/approvals/{id}``."""
        path = f"/v1/approvals/{_segment(approval_id)}"
        return self._base.call("GET", path, ApprovalPublic)

    def decide(self, approval_id: str, fields: Mapping[str, Any]) -> Call[ApprovalPublic]:
        """``POST /v1/approvals/{id}``: validated locally against ``ApprovalDecision`` first."""
        path = f"/v1/approvals/{_segment(approval_id)}"
        return self._base.call("POST", path, ApprovalPublic, json=_decision(fields))

    def view_link(self, token: str) -> Call[ApprovalPublic]:
        """``POST /v1/runs/approval/view``: what a signed link asks (not using it up).

        ``token`` is the token or the whole link; it goes in the body, never in a URL.
        """
        body = {"token": link_token(token)}
        return self._base.call("POST", "/v1/runs/approval/view", ApprovalPublic, json=body)

    def decide_link(self, token: str, fields: Mapping[str, Any]) -> Call[ApprovalPublic]:
        """``POST /v1/runs/approval``: decide by a single-use signed link (token in the body)."""
        body = {**_decision(fields), "token": link_token(token)}
        return self._base.call("POST", "/v1/runs/approval", ApprovalPublic, json=body)

    def new_link(self, approval_id: str) -> Call[ApprovalLink]:
        """``POST /v1/approvals/{id}/link``: a new link; the previous one stops working."""
        path = f"/v1/approvals/{_segment(approval_id)}/link"
        return self._base.call("POST", path, ApprovalLink)

    def revoke_link(self, approval_id: str) -> Call[ApprovalPublic]:
        """``POST /v1/approvals/{id}/link/revoke``: the link stops working; still pending."""
        path = f"/v1/approvals/{_segment(approval_id)}/link/revoke"
        return self._base.call("POST", path, ApprovalPublic)


def link_token(link_or_token: str) -> str:
    """The token of an approval link (its fragment), or the token itself."""
    return link_or_token.partition("#")[2] if "#" in link_or_token else link_or_token


class ConnectionCalls:
    """The calls of users' connections (credentials for integrations), built but not sent."""

    def __init__(self, base: BaseClient) -> None:
        self._base = base

    def _path(self, user_id: str, integration: str | None = None) -> str:
        path = f"/v1/users/{_segment(user_id)}/connections"
        return path if integration is None else f"{path}/{_segment(integration)}"

    def put(self, user_id: str, integration: str, secret: str) -> Call[ConnectionPublic]:
        """``PUT /v1/users/{user}/connections/{integration}``: store a credential."""
        body = _body(ConnectionPut(secret=secret))
        path = self._path(user_id, integration)
        return self._base.call("PUT", path, ConnectionPublic, json=body)

    def list(self, user_id: str) -> Call[Page[ConnectionPublic]]:
        """``GET /v1/users/{user}/connections``."""
        return self._base.call("GET", self._path(user_id), Page[ConnectionPublic])

    def delete(self, user_id: str, integration: str) -> Call[None]:
        """``DELETE /v1/users/{user}/connections/{integration}``."""
        request = self._base.build_request("DELETE", self._path(user_id, integration))
        return Call(request, raise_for_error)


class ModelCalls:
    """The calls of the model catalogue and the tenant's model providers, built but not sent."""

    def __init__(self, base: BaseClient) -> None:
        self._base = base

    @staticmethod
    def _model(name: str) -> str:
        # A model name may hold slashes (``ollama/llama3.2``): the route takes them as they are.
        return f"/v1/models/{quote(name, safe='/')}"

    @staticmethod
    def _provider(name: str) -> str:
        return f"/v1/model-providers/{_segment(name)}"

    def list(self) -> Call[Page[ModelPublic]]:
        """``GET /v1/models``."""
        return self._base.call("GET", "/v1/models", Page[ModelPublic])

    def get(self, name: str) -> Call[ModelPublic]:
        """``GET /v1/models/{name}``."""
        return self._base.call("GET", self._model(name), ModelPublic)

    def put(self, name: str, entry: ModelPut) -> Call[ModelPublic]:
        """``PUT /v1/models/{name}``: the tenant's own entry."""
        return self._base.call("PUT", self._model(name), ModelPublic, json=_body(entry))

    def delete(self, name: str) -> Call[None]:
        """``DELETE /v1/models/{name}``."""
        return Call(self._base.build_request("DELETE", self._model(name)), raise_for_error)

    def list_providers(self) -> Call[Page[ModelProviderPublic]]:
        """``GET /v1/model-providers``."""
        return self._base.call("GET", "/v1/model-providers", Page[ModelProviderPublic])

    def get_provider(self, name: str) -> Call[ModelProviderPublic]:
        """``GET /v1/model-providers/{name}``."""
        return self._base.call("GET", self._provider(name), ModelProviderPublic)

    def put_provider(self, name: str, provider: ModelProviderPut) -> Call[ModelProviderPublic]:
        """``PUT /v1/model-providers/{name}``."""
        body = _body(provider)
        return self._base.call("PUT", self._provider(name), ModelProviderPublic, json=body)

    def delete_provider(self, name: str) -> Call[None]:
        """``DELETE /v1/model-providers/{name}``."""
        return Call(self._base.build_request("DELETE", self._provider(name)), raise_for_error)


class KeyCalls:
    """The calls that manage API keys and read the audit log (admin keys), built but not sent."""

    def __init__(self, base: BaseClient) -> None:
        self._base = base

    def create(self, name: str | None, role: str, user_id: str | None) -> Call[KeyCreated]:
        """``POST /v1/keys``: a new key, returned once."""
        body = _body(KeyCreate.model_validate({"name": name, "role": role, "user_id": user_id}))
        return self._base.call("POST", "/v1/keys", KeyCreated, json=body)

    def list(self) -> Call[Page[KeyPublic]]:
        """``GET /v1/keys``."""
        return self._base.call("GET", "/v1/keys", Page[KeyPublic])

    def revoke(self, key_id: str) -> Call[None]:
        """``DELETE /v1/keys/{key_id}``."""
        request = self._base.build_request("DELETE", f"/v1/keys/{_segment(key_id)}")
        return Call(request, raise_for_error)

    def audit_events(self, limit: int | None = None) -> Call[Page[AuditEventPublic]]:
        """``GET /v1/audit-events``."""
        params = {} if limit is None else {"limit": limit}
        return self._base.call("GET", "/v1/audit-events", Page[AuditEventPublic], params=params)


class ToolCalls:
    """The calls that list tools and integrations, built but not sent."""

    def __init__(self, base: BaseClient) -> None:
        self._base = base

    def tools(self) -> Call[Page[ToolPublic]]:
        """``GET /v1/tools``."""
        return self._base.call("GET", "/v1/tools", Page[ToolPublic])

    def integrations(self) -> Call[Page[IntegrationPublic]]:
        """``GET /v1/integrations``."""
        return self._base.call("GET", "/v1/integrations", Page[IntegrationPublic])


def read_bytes(response: httpx.Response) -> bytes:
    """Check a response and return its body's bytes."""
    raise_for_error(response)
    return response.content


class FileCalls:
    """The calls of the sites and files API, built but not sent."""

    def __init__(self, base: BaseClient) -> None:
        self._base = base

    def create_site(self, name: str, description: str | None) -> Call[SitePublic]:
        """``POST /v1/sites``."""
        body = SiteCreate(name=name, description=description)
        return self._base.call("POST", "/v1/sites", SitePublic, json=_body(body))

    def sites(self) -> Call[Page[SitePublic]]:
        """``GET /v1/sites``."""
        return self._base.call("GET", "/v1/sites", Page[SitePublic])

    def site(self, site_id: str) -> Call[SitePublic]:
        """``GET /v1/sites/{id}`` (an id or a name)."""
        return self._base.call("GET", f"/v1/sites/{_segment(site_id)}", SitePublic)

    def delete_site(self, site_id: str) -> Call[None]:
        """``DELETE /v1/sites/{id}``."""
        request = self._base.build_request("DELETE", f"/v1/sites/{_segment(site_id)}")
        return Call(request, raise_for_error)

    def upload(
        self, site_id: str, name: str, content: bytes, media_type: str | None
    ) -> Call[FilePublic]:
        """``POST /v1/files``: multipart, the file's bytes and its site."""
        part = (name, content) if media_type is None else (name, content, media_type)
        return self._base.call(
            "POST", "/v1/files", FilePublic, files={"file": part}, data={"site_id": site_id}
        )

    def list(self, filters: Mapping[str, Any]) -> Call[Page[FilePublic]]:
        """``GET /v1/files`` with ``site_id``, ``run_id``, ``limit``, ``continuation_token``."""
        return self._base.call("GET", "/v1/files", Page[FilePublic], params=filters)

    def get(self, file_id: str) -> Call[FilePublic]:
        """``GET /v1/files/{id}``."""
        return self._base.call("GET", f"/v1/files/{_segment(file_id)}", FilePublic)

    def content(self, file_id: str) -> Call[bytes]:
        """``GET /v1/files/{id}/content``."""
        path = f"/v1/files/{_segment(file_id)}/content"
        return Call(self._base.build_request("GET", path), read_bytes)

    def delete(self, file_id: str) -> Call[None]:
        """``DELETE /v1/files/{id}``."""
        request = self._base.build_request("DELETE", f"/v1/files/{_segment(file_id)}")
        return Call(request, raise_for_error)

    def hold(self, file_id: str, reason: str) -> Call[FilePublic]:
        """``POST /v1/files/{id}/hold``: a legal hold, with its reason."""
        path = f"/v1/files/{_segment(file_id)}/hold"
        return self._base.call("POST", path, FilePublic, json={"reason": reason})

    def release(self, file_id: str) -> Call[FilePublic]:
        """``DELETE /v1/files/{id}/hold``."""
        return self._base.call("DELETE", f"/v1/files/{_segment(file_id)}/hold", FilePublic)

    def of_run(self, run_id: str) -> Call[Page[FilePublic]]:
        """``GET /v1/runs/{id}/files``."""
        return self._base.call("GET", f"/v1/runs/{_segment(run_id)}/files", Page[FilePublic])


class TriggerCalls:
    """The calls that manage triggers (schedules, webhooks, uploads), built but not sent."""

    def __init__(self, base: BaseClient) -> None:
        self._base = base

    def create(self, fields: Mapping[str, Any]) -> Call[TriggerPublic]:
        """``POST /v1/triggers``: a webhook trigger's ``secret`` is in this answer only."""
        body = _body(TriggerCreate.model_validate(fields))
        return self._base.call("POST", "/v1/triggers", TriggerPublic, json=body)

    def list(self, filters: Mapping[str, Any]) -> Call[Page[TriggerPublic]]:
        """``GET /v1/triggers``."""
        return self._base.call("GET", "/v1/triggers", Page[TriggerPublic], params=filters)

    def get(self, trigger_id: str) -> Call[TriggerPublic]:
        """``GET /v1/triggers/{id}``."""
        return self._base.call("GET", f"/v1/triggers/{_segment(trigger_id)}", TriggerPublic)

    def update(self, trigger_id: str, fields: Mapping[str, Any]) -> Call[TriggerPublic]:
        """``PATCH /v1/triggers/{id}``."""
        body = _body(TriggerPatch.model_validate(fields))
        path = f"/v1/triggers/{_segment(trigger_id)}"
        return self._base.call("PATCH", path, TriggerPublic, json=body)

    def act(self, trigger_id: str, action: str) -> Call[TriggerPublic]:
        """``POST /v1/triggers/{id}/{enable|disable|pause|resume}``."""
        path = f"/v1/triggers/{_segment(trigger_id)}/{action}"
        return self._base.call("POST", path, TriggerPublic)

    def delete(self, trigger_id: str) -> Call[None]:
        """``DELETE /v1/triggers/{id}``."""
        request = self._base.build_request("DELETE", f"/v1/triggers/{_segment(trigger_id)}")
        return Call(request, raise_for_error)


class WebhookCalls:
    """The calls of lifecycle webhook endpoints and deliveries (admin keys), built but not sent."""

    def __init__(self, base: BaseClient) -> None:
        self._base = base

    def create_endpoint(self, body: dict[str, Any]) -> Call[WebhookEndpointPublic]:
        """``POST /v1/webhook-endpoints``."""
        checked = _body(WebhookEndpointCreate.model_validate(body))
        return self._base.call("POST", "/v1/webhook-endpoints", WebhookEndpointPublic, json=checked)

    def list_endpoints(self) -> Call[Page[WebhookEndpointPublic]]:
        """``GET /v1/webhook-endpoints``."""
        return self._base.call("GET", "/v1/webhook-endpoints", Page[WebhookEndpointPublic])

    def get_endpoint(self, endpoint_id: str) -> Call[WebhookEndpointPublic]:
        """``GET /v1/webhook-endpoints/{id}``."""
        path = f"/v1/webhook-endpoints/{_segment(endpoint_id)}"
        return self._base.call("GET", path, WebhookEndpointPublic)

    def update_endpoint(
        self, endpoint_id: str, changes: dict[str, Any]
    ) -> Call[WebhookEndpointPublic]:
        """``PATCH /v1/webhook-endpoints/{id}``."""
        body = _body(WebhookEndpointUpdate.model_validate(changes))
        path = f"/v1/webhook-endpoints/{_segment(endpoint_id)}"
        return self._base.call("PATCH", path, WebhookEndpointPublic, json=body)

    def delete_endpoint(self, endpoint_id: str) -> Call[None]:
        """``DELETE /v1/webhook-endpoints/{id}``."""
        path = f"/v1/webhook-endpoints/{_segment(endpoint_id)}"
        return Call(self._base.build_request("DELETE", path), raise_for_error)

    def deliveries(self, params: dict[str, Any]) -> Call[Page[WebhookDeliveryPublic]]:
        """``GET /v1/webhooks/deliveries``."""
        query = {k: _param(v) for k, v in params.items() if v is not None}
        return self._base.call(
            "GET", "/v1/webhooks/deliveries", Page[WebhookDeliveryPublic], params=query
        )

    def delivery(self, delivery_id: str) -> Call[WebhookDeliveryPublic]:
        """``GET /v1/webhooks/deliveries/{id}``: with its attempts."""
        path = f"/v1/webhooks/deliveries/{_segment(delivery_id)}"
        return self._base.call("GET", path, WebhookDeliveryPublic)

    def redeliver(self, delivery_id: str) -> Call[WebhookDeliveryPublic]:
        """``POST /v1/webhooks/deliveries/{id}/redeliver``."""
        path = f"/v1/webhooks/deliveries/{_segment(delivery_id)}/redeliver"
        return self._base.call("POST", path, WebhookDeliveryPublic)
