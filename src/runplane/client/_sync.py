"""The synchronous client: sends the calls that ``_base`` builds, over ``httpx.Client``."""

import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any, TypeVar

import httpx

from runplane.client._base import (
    AgentCalls,
    BaseClient,
    Call,
    Deadline,
    RunCalls,
    SSEParser,
    StreamResume,
    is_terminal,
    next_page,
    wait_timed_out,
)
from runplane.client._errors import connection_error, error_from_response
from runplane.schemas import (
    AgentPublic,
    EventPublic,
    Page,
    RevisionPublic,
    RunPublic,
    StepPublic,
    VerifyResult,
)

T = TypeVar("T")


class Client(BaseClient):
    """A synchronous client of a runplane server."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout)
        self._http = httpx.Client(transport=transport)
        self.runs = Runs(self)
        self.agents = Agents(self)

    def health(self) -> dict[str, Any]:
        """Return the server's health (``{"status": "ok", ...}``)."""
        return self._send(self.health_call())

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
        try:
            response = self._http.send(call.request)
        except httpx.TransportError as exc:
            raise connection_error(exc, self.base_url) from exc
        return call.read(response)


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
        **fields: Any,
    ) -> RunPublic:
        """Start a run of ``agent``; with ``wait``, the server answers when it ends (or then)."""
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
        limit: int = 20,
        continuation_token: str | None = None,
    ) -> Page[RunPublic]:
        """Return one page of runs, newest first, matching the filters."""
        filters = {
            "agent_id": agent_id,
            "status": status,
            "q": q,
            "archived": archived,
            "trigger": trigger,
            "parent_run_id": parent_run_id,
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
            "limit": limit,
        }
        call: Call[Page[RunPublic]] | None = self._calls.list(filters)
        while call is not None:
            page = self._client._send(call)
            yield from page.items
            call = next_page(call, page)

    def steps(self, run_id: str) -> Page[StepPublic]:
        """Return a run's steps."""
        return self._client._send(self._calls.steps(run_id))

    def events(self, run_id: str, after: int = 0, limit: int | None = None) -> Page[EventPublic]:
        """Return a run's events with ``seq`` above ``after``."""
        return self._client._send(self._calls.events(run_id, after, limit))

    def stream(self, run_id: str, after: int = 0) -> Iterator[EventPublic]:
        """Follow a run's events live until its terminal event, reconnecting if cut off."""
        resume = StreamResume(run_id, after, self._client.base_url)
        http = self._client._http
        while True:
            cause: Exception | None = None
            try:
                response = http.send(self._calls.stream(resume), stream=True)
            except httpx.TransportError as exc:
                time.sleep(resume.dropped(exc))
                continue
            resume.connected()
            try:
                if response.is_error:
                    response.read()
                    raise error_from_response(response)
                for event in SSEParser().parse(response.iter_lines()):
                    if resume.accept(event):
                        yield event
                        if resume.ended:
                            return
            except httpx.TransportError as exc:
                cause = exc
            finally:
                response.close()
            time.sleep(resume.dropped(cause))

    def wait(self, run_id: str, timeout: float | None = None) -> RunPublic:
        """Return the run once it has ended; raise ``TimeoutError`` after ``timeout`` seconds."""
        deadline = Deadline(timeout)
        while True:
            asked, started = deadline.next_wait(), time.monotonic()
            run = self._client._send(self._calls.get(run_id, wait=asked))
            if is_terminal(run):
                return run
            if deadline.expired:
                raise wait_timed_out(run_id, deadline)
            time.sleep(deadline.pause_after(asked, time.monotonic() - started))

    def cancel(self, run_id: str) -> RunPublic:
        """Ask a run to stop; it becomes ``canceled`` shortly after."""
        return self._client._send(self._calls.cancel(run_id))

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

    def delete(self, run_id: str) -> None:
        """Delete an ended run."""
        self._client._send(self._calls.delete(run_id))

    def verify(self, run_id: str) -> VerifyResult:
        """Check a run's hash-chained event log."""
        return self._client._send(self._calls.verify(run_id))


class Agents:
    """Read agents and publish their revisions."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._calls = AgentCalls(client)

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

    def publish(self, agent: str, revision: str) -> RevisionPublic:
        """Make ``revision`` the one new runs of ``agent`` use."""
        return self._client._send(self._calls.publish(agent, revision))
