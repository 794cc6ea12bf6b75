"""The client at the HTTP edge: error decoding, paging, SSE, reconnects and waits.

The server is faked only at the transport (``httpx.MockTransport``); everything above it
is the real client.
"""

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from runplane.client import (
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    RunplaneAPIError,
    RunplaneConnectionError,
    ServerError,
    SSEParser,
    ValidationError,
)

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only

URL = "http://runplane.test"
Handler = Callable[[httpx.Request], httpx.Response]


def sync_client(handler: Handler) -> Client:
    return Client(URL, "key-1", transport=httpx.MockTransport(handler))


def async_client(handler: Handler) -> AsyncClient:
    return AsyncClient(URL, "key-1", transport=httpx.MockTransport(handler))


def run_json(run_id: str = "run_1", status: str = "running") -> dict[str, Any]:
    return {
        "id": run_id,
        "agent_id": "agt_1",
        "agent_name": "echo",
        "revision_id": "rev_1",
        "status": status,
        "trigger": "api",
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": "2025-01-01T00:00:00Z",
    }


def event_json(seq: int, type_: str = "reasoning", **data: Any) -> dict[str, Any]:
    return {
        "run_id": "run_1",
        "seq": seq,
        "type": type_,
        "at": "2025-01-01T00:00:00Z",
        "data": data,
        "hash": f"h{seq}",
        "prev_hash": f"h{seq - 1}",
    }


def sse(*events: dict[str, Any]) -> bytes:
    return "".join(
        f"id: {e['seq']}\nevent: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events
    ).encode()


def terminal(seq: int) -> dict[str, Any]:
    return event_json(seq, "status", status="succeeded")


class Dropping(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that sends its bytes, then breaks (or ends) without warning."""

    def __init__(self, body: bytes, *, breaks: bool = True) -> None:
        self.body = body
        self.breaks = breaks

    def __iter__(self) -> Iterator[bytes]:
        if self.body:
            yield self.body
        if self.breaks:
            raise httpx.ReadError("connection reset")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self:
            yield chunk


def stream_response(body: bytes, *, breaks: bool = False) -> httpx.Response:
    headers = {"Content-Type": "text/event-stream"}
    return httpx.Response(200, headers=headers, stream=Dropping(body, breaks=breaks))


# -- error decoding ---------------------------------------------------------------------

ERRORS = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (404, NotFoundError),
    (409, ConflictError),
    (413, PayloadTooLargeError),
    (422, ValidationError),
    (500, ServerError),
    (503, ServerError),
    (403, RunplaneAPIError),
]


def error_handler(status: int) -> Handler:
    body = {
        "status_code": status,
        "message": "input is not valid",
        "details": [{"name": "input.count", "value": -1}],
    }
    return lambda request: httpx.Response(status, json=body)


@pytest.mark.parametrize(("status", "error"), ERRORS)
def test_each_error_status_raises_its_typed_exception_with_details(
    status: int, error: type[RunplaneAPIError]
) -> None:
    with sync_client(error_handler(status)) as client, pytest.raises(error) as caught:
        client.runs.get("run_1")
    assert type(caught.value) is error
    assert caught.value.status_code == status
    assert caught.value.message == "input is not valid"
    assert [(d.name, d.value) for d in caught.value.details] == [("input.count", -1)]


@pytest.mark.parametrize(("status", "error"), ERRORS)
async def test_the_async_client_raises_the_same_typed_exceptions(
    status: int, error: type[RunplaneAPIError]
) -> None:
    async with async_client(error_handler(status)) as client:
        with pytest.raises(error) as caught:
            await client.runs.cancel("run_1")
    assert type(caught.value) is error
    assert caught.value.details[0].name == "input.count"


def test_an_error_without_the_error_body_still_raises_with_its_text() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="Bad Gateway from the proxy")

    with sync_client(handler) as client, pytest.raises(ServerError) as caught:
        client.health()
    assert caught.value.status_code == 502
    assert "Bad Gateway" in caught.value.message
    assert caught.value.details == []


def test_a_success_body_of_the_wrong_shape_is_an_api_error_not_a_pydantic_one() -> None:
    with sync_client(lambda request: httpx.Response(200, json={"id": 1})) as client:
        with pytest.raises(RunplaneAPIError) as caught:
            client.runs.get("run_1")
    assert caught.value.status_code == 200
    assert any(d.name == "agent_id" for d in caught.value.details)


def test_an_unreachable_server_raises_a_connection_error_naming_the_url() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with sync_client(handler) as client, pytest.raises(RunplaneConnectionError) as caught:
        client.runs.list()
    assert caught.value.url == URL
    assert URL in str(caught.value)
    assert isinstance(caught.value, ConnectionError)


async def test_the_async_client_raises_a_connection_error_too() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with async_client(handler) as client:
        with pytest.raises(RunplaneConnectionError):
            await client.health()


# -- requests ---------------------------------------------------------------------------


def test_create_sends_auth_the_idempotency_key_and_only_the_fields_given() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=run_json(status="queued"))

    with sync_client(handler) as client:
        run = client.runs.create("echo", {"text": "hi"}, idempotency_key="abc", name="first")

    assert run.status == "queued"
    request = seen[0]
    assert (request.method, request.url.path) == ("POST", "/v1/runs")
    assert request.headers["Authorization"] == "Bearer key-1"
    assert request.headers["Idempotency-Key"] == "abc"
    assert json.loads(request.content) == {
        "agent_id": "echo",
        "input": {"text": "hi"},
        "name": "first",
    }


def test_list_leaves_out_filters_that_are_not_set() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": [], "continuation_token": None})

    with sync_client(handler) as client:
        client.runs.list(status="failed", archived=False)

    assert dict(seen[0].url.params) == {"status": "failed", "archived": "false", "limit": "20"}


# -- paging -----------------------------------------------------------------------------


def two_pages(seen: list[httpx.Request]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if "continuation_token" not in request.url.params:
            items = [run_json("run_3"), run_json("run_2")]
            return httpx.Response(200, json={"items": items, "continuation_token": "tok-2"})
        assert request.url.params["continuation_token"] == "tok-2"
        return httpx.Response(200, json={"items": [run_json("run_1")], "continuation_token": None})

    return handler


def test_iter_follows_the_continuation_token_across_pages_keeping_the_filters() -> None:
    seen: list[httpx.Request] = []
    with sync_client(two_pages(seen)) as client:
        ids = [run.id for run in client.runs.iter(agent_id="echo")]

    assert ids == ["run_3", "run_2", "run_1"]
    assert len(seen) == 2
    assert seen[1].url.params["agent_id"] == "echo"


async def test_async_iter_follows_the_continuation_token_across_pages() -> None:
    seen: list[httpx.Request] = []
    async with async_client(two_pages(seen)) as client:
        ids = [run.id async for run in client.runs.iter(agent_id="echo")]

    assert ids == ["run_3", "run_2", "run_1"]
    assert seen[1].url.params["agent_id"] == "echo"


# -- server-sent events -----------------------------------------------------------------


def test_the_sse_parser_joins_data_lines_skips_comments_and_keeps_the_last_id() -> None:
    event = json.dumps(event_json(7, "reasoning", text="a\nb"), indent=1).splitlines()
    lines = [": keepalive", "", "id: 7", "event: reasoning"]
    lines += [f"data: {part}" for part in event]
    lines += ["", ":another comment", "retry: 1000", ""]

    parser = SSEParser()
    events = list(parser.parse(lines))

    assert [e.seq for e in events] == [7]
    assert events[0].data == {"text": "a\nb"}
    assert parser.last_event_id == "7"


def test_the_sse_parser_takes_data_without_a_space_and_drops_an_unfinished_message() -> None:
    parser = SSEParser()
    assert parser.feed("data:" + json.dumps(event_json(1))) is None
    first = parser.feed("")
    assert first is not None and first.seq == 1
    assert parser.feed("data: " + json.dumps(event_json(2))) is None
    assert parser.feed("") is not None
    assert list(parser.parse(["data: " + json.dumps(event_json(3))])) == []


def reconnecting_server(seen: list[httpx.Request]) -> Handler:
    """Sends events 1 and 2, breaks, then sends 3 and the terminal 4 on reconnection."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return stream_response(sse(event_json(1), event_json(2)), breaks=True)
        return stream_response(sse(event_json(3), terminal(4)))

    return handler


def test_stream_reconnects_with_last_event_id_after_a_drop() -> None:
    seen: list[httpx.Request] = []
    with sync_client(reconnecting_server(seen)) as client:
        events = list(client.runs.stream("run_1"))

    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert seen[0].url.path == "/v1/runs/run_1/stream"
    assert "Last-Event-ID" not in seen[0].headers
    assert seen[1].headers["Last-Event-ID"] == "2"


async def test_async_stream_reconnects_with_last_event_id_after_a_drop() -> None:
    seen: list[httpx.Request] = []
    async with async_client(reconnecting_server(seen)) as client:
        events = [e async for e in client.runs.stream("run_1")]

    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert seen[1].headers["Last-Event-ID"] == "2"


def test_stream_reconnects_when_the_server_closes_before_the_terminal_event() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return stream_response(b": hi\n\n" + sse(event_json(1)))
        return stream_response(sse(event_json(1), terminal(2)))

    with sync_client(handler) as client:
        events = list(client.runs.stream("run_1"))

    assert [e.seq for e in events] == [1, 2], "a replayed event is not yielded twice"
    assert seen[1].headers["Last-Event-ID"] == "1"


def test_stream_stops_at_the_terminal_event_and_starts_after_the_given_seq() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return stream_response(sse(event_json(6), terminal(7), event_json(8)), breaks=True)

    with sync_client(handler) as client:
        events = list(client.runs.stream("run_1", after=5))

    assert [e.seq for e in events] == [6, 7]
    assert seen[0].url.params["after"] == "5"
    assert len(seen) == 1


def always_dropping(seen: list[httpx.Request]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return stream_response(b"", breaks=True)

    return handler


def test_stream_gives_up_after_three_reconnects_without_progress() -> None:
    seen: list[httpx.Request] = []
    with sync_client(always_dropping(seen)) as client:
        with pytest.raises(RunplaneConnectionError):
            list(client.runs.stream("run_1"))
    assert len(seen) == 4


async def test_async_stream_gives_up_after_three_reconnects_without_progress() -> None:
    seen: list[httpx.Request] = []
    async with async_client(always_dropping(seen)) as client:
        with pytest.raises(RunplaneConnectionError):
            [e async for e in client.runs.stream("run_1")]
    assert len(seen) == 4


def test_a_stream_of_an_unknown_run_raises_not_found_without_retrying() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return error_handler(404)(request)

    with sync_client(handler) as client, pytest.raises(NotFoundError):
        list(client.runs.stream("run_x"))
    assert len(seen) == 1


# -- waiting ----------------------------------------------------------------------------


def never_ending(seen: list[httpx.Request]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=run_json(status="running"))

    return handler


def test_wait_raises_timeout_error_when_the_run_does_not_end_in_time() -> None:
    seen: list[httpx.Request] = []
    with sync_client(never_ending(seen)) as client, pytest.raises(TimeoutError):
        client.runs.wait("run_1", timeout=0.3)
    assert seen
    assert all(float(r.url.params["wait"]) <= 0.3 for r in seen)


async def test_async_wait_raises_timeout_error_when_the_run_does_not_end_in_time() -> None:
    seen: list[httpx.Request] = []
    async with async_client(never_ending(seen)) as client:
        with pytest.raises(TimeoutError):
            await client.runs.wait("run_1", timeout=0.3)
    assert seen


def test_wait_asks_the_server_to_hold_at_most_sixty_seconds_and_returns_the_ended_run() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = "failed" if len(seen) == 2 else "running"
        return httpx.Response(200, json=run_json(status=status))

    with sync_client(handler) as client:
        run = client.runs.wait("run_1")

    assert run.status == "failed"
    assert [r.url.params["wait"] for r in seen] == ["60", "60"]
    assert seen[0].extensions["timeout"]["read"] > 60
