"""When the client sends a call again: against a stub HTTP server on a real socket.

The stub answers from a script (503, 429, a dropped connection, then a success) and
records every request it got, so each test counts exactly what reached the server.
"""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from runplane.client import (
    AsyncClient,
    Client,
    RetryNote,
    RunplaneConnectionError,
    ServerError,
)
from runplane.client._retry import RetryPolicy, replayable, retry_after
from runplane.testing.server import free_port

pytestmark = [pytest.mark.timeout(60), pytest.mark.database_independent]  # the SQLite pass only

RUN = {
    "id": "run_1",
    "agent_id": "agt_1",
    "agent_name": "echo",
    "revision_id": "rev_1",
    "status": "queued",
    "trigger": "api",
    "created_at": "2025-01-01T00:00:00Z",
    "updated_at": "2025-01-01T00:00:00Z",
}
EMPTY_PAGE = {"items": [], "continuation_token": None}
BUSY = {"status_code": 503, "message": "the database is busy; nothing was changed", "details": []}
DROP = "drop"  # read the request, then close the connection without an answer


@dataclass
class Answer:
    """One scripted answer."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def busy(after: str = "0") -> Answer:
    return Answer(503, BUSY, {"Retry-After": after})


@dataclass
class Seen:
    """A request the stub got."""

    method: str
    path: str
    headers: dict[str, str]
    client_port: int


class Stub:
    """An HTTP server that answers from a script and records what it was sent."""

    def __init__(self) -> None:
        self.script: list[Answer | str] = []
        self.seen: list[Seen] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                seen = Seen(self.command, self.path, dict(self.headers), self.client_address[1])
                stub.seen.append(seen)
                answer = stub.script.pop(0) if stub.script else Answer(500, {"message": "?"})
                if answer == DROP:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                assert isinstance(answer, Answer)
                body = answer.body
                payload = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(answer.status)
                for name, value in {"Content-Type": "application/json", **answer.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def answers(self, *script: Answer | str) -> None:
        self.script = list(script)
        self.seen = []

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def stub() -> Iterator[Stub]:
    server = Stub()
    yield server
    server.close()


@pytest.fixture
def notes() -> list[RetryNote]:
    return []


def client(stub: Stub, notes: list[RetryNote], **options: Any) -> Client:
    return Client(stub.url, "key-1", timeout=5, on_retry=notes.append, **options)


def test_a_read_answered_503_is_sent_again_until_it_succeeds(
    stub: Stub, notes: list[RetryNote]
) -> None:
    stub.answers(busy(), busy(), Answer(200, EMPTY_PAGE))
    with client(stub, notes) as c:
        page = c.runs.list()
    assert page.items == []
    assert [(s.method, s.path.split("?")[0]) for s in stub.seen] == [("GET", "/v1/runs")] * 3
    assert [(n.retry, n.reason, n.method) for n in notes] == [(1, "503", "GET"), (2, "503", "GET")]


def test_a_post_without_an_idempotency_key_is_not_sent_again_after_an_answer(
    stub: Stub, notes: list[RetryNote]
) -> None:
    stub.answers(busy(), Answer(200, RUN))
    with client(stub, notes) as c, pytest.raises(ServerError) as caught:
        c.runs.cancel("run_1")
    assert caught.value.status_code == 503
    assert len(stub.seen) == 1 and "Idempotency-Key" not in stub.seen[0].headers
    assert notes == []


def test_a_post_without_an_idempotency_key_is_not_sent_again_when_the_answer_is_lost(
    stub: Stub, notes: list[RetryNote]
) -> None:
    # The request went out: the server may have acted on it before the connection broke.
    stub.answers(DROP, Answer(200, RUN))
    with client(stub, notes) as c, pytest.raises(RunplaneConnectionError):
        c.runs.cancel("run_1")
    assert len(stub.seen) == 1 and notes == []


def test_a_run_create_carries_an_idempotency_key_and_every_retry_sends_the_same_one(
    stub: Stub, notes: list[RetryNote]
) -> None:
    stub.answers(busy(), DROP, Answer(201, RUN))
    with client(stub, notes) as c:
        run = c.runs.create("echo", {"message": "hi"})
    assert run.id == "run_1"
    keys = [s.headers.get("Idempotency-Key") for s in stub.seen]
    assert len(keys) == 3 and len(set(keys)) == 1 and str(keys[0]).startswith("rp-")
    assert [n.reason for n in notes] == ["503", "RemoteProtocolError"]


def test_a_key_given_to_create_is_the_one_sent_and_each_create_gets_its_own_otherwise(
    stub: Stub, notes: list[RetryNote]
) -> None:
    stub.answers(Answer(201, RUN), Answer(201, RUN), Answer(201, RUN))
    with client(stub, notes) as c:
        c.runs.create("echo", idempotency_key="order-42")
        c.runs.create("echo")
        c.runs.create("echo")
    keys = [s.headers["Idempotency-Key"] for s in stub.seen]
    assert keys[0] == "order-42" and keys[1] != keys[2]


def test_rerun_and_duplicate_are_creates_that_carry_a_key_too(
    stub: Stub, notes: list[RetryNote]
) -> None:
    stub.answers(busy(), Answer(201, RUN), busy(), Answer(201, RUN))
    with client(stub, notes) as c:
        c.runs.rerun("run_0")
        c.runs.duplicate("run_0", input={"message": "again"})
    assert [s.path for s in stub.seen] == ["/v1/runs/run_0/rerun"] * 2 + [
        "/v1/runs/run_0/duplicate"
    ] * 2
    assert stub.seen[0].headers["Idempotency-Key"] == stub.seen[1].headers["Idempotency-Key"]
    assert stub.seen[2].headers["Idempotency-Key"] == stub.seen[3].headers["Idempotency-Key"]


def test_a_429_is_retried_after_the_seconds_its_retry_after_asks(
    stub: Stub, notes: list[RetryNote]
) -> None:
    stub.answers(Answer(429, {"message": "slow down"}, {"Retry-After": "1"}), Answer(201, RUN))
    started = time.monotonic()
    with client(stub, notes) as c:
        c.runs.create("echo")
    assert time.monotonic() - started >= 1.0
    assert len(notes) == 1 and notes[0].reason == "429" and 1.0 <= notes[0].delay <= 2.0


def test_retries_stop_after_max_retries_with_the_last_answer_raised(
    stub: Stub, notes: list[RetryNote]
) -> None:
    stub.answers(busy(), busy(), busy(), Answer(200, EMPTY_PAGE))
    with client(stub, notes, max_retries=2) as c, pytest.raises(ServerError) as caught:
        c.runs.list()
    assert caught.value.status_code == 503
    assert len(stub.seen) == 3 and [n.retry for n in notes] == [1, 2]


def test_max_retries_zero_sends_every_call_once(stub: Stub, notes: list[RetryNote]) -> None:
    stub.answers(busy(), Answer(200, EMPTY_PAGE))
    with client(stub, notes, max_retries=0) as c, pytest.raises(ServerError):
        c.runs.list()
    assert len(stub.seen) == 1 and notes == []


def test_the_environment_sets_max_retries(
    stub: Stub, notes: list[RetryNote], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNPLANE_MAX_RETRIES", "1")
    stub.answers(busy(), busy(), Answer(200, EMPTY_PAGE))
    with client(stub, notes) as c, pytest.raises(ServerError):
        c.runs.list()
    assert len(stub.seen) == 2


def test_other_errors_are_not_retried(stub: Stub, notes: list[RetryNote]) -> None:
    stub.answers(Answer(500, {"message": "bug"}), Answer(200, EMPTY_PAGE))
    with client(stub, notes) as c, pytest.raises(ServerError):
        c.runs.list()
    assert len(stub.seen) == 1 and notes == []


def test_a_connection_refused_is_retried_for_any_call_since_nothing_was_sent(
    notes: list[RetryNote],
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    with Client(nobody, "k", timeout=5, max_retries=2, on_retry=notes.append) as c:
        with pytest.raises(RunplaneConnectionError, match="not reachable"):
            c.runs.cancel("run_1")
    assert [(n.reason, n.method) for n in notes] == [("ConnectError", "POST")] * 2


async def test_the_async_client_retries_a_create_the_same_way(
    stub: Stub, notes: list[RetryNote]
) -> None:
    stub.answers(busy(), Answer(201, RUN))
    async with AsyncClient(stub.url, "k", timeout=5, on_retry=notes.append) as c:
        run = await c.runs.create("echo")
        stub.answers(busy(), Answer(200, RUN))
        with pytest.raises(ServerError):
            await c.runs.archive("run_1")
    assert run.id == "run_1" and len(stub.seen) == 1
    assert [n.reason for n in notes] == ["503"]


def test_a_stream_refused_with_503_is_opened_again(stub: Stub, notes: list[RetryNote]) -> None:
    ended = {
        "run_id": "run_1",
        "seq": 1,
        "type": "status",
        "at": RUN["created_at"],
        "data": {"status": "succeeded"},
        "hash": "h1",
        "prev_hash": "h0",
    }
    stream = f"id: 1\ndata: {json.dumps(ended)}\n\n"
    stub.answers(busy(), Answer(200, stream, {"Content-Type": "text/event-stream"}))
    with client(stub, notes) as c:
        events = list(c.runs.stream("run_1"))
    assert [(e.seq, e.data["status"]) for e in events] == [(1, "succeeded")]
    assert [s.path.split("?")[0] for s in stub.seen] == ["/v1/runs/run_1/stream"] * 2
    assert [n.reason for n in notes] == ["503"]


def test_a_connection_idle_for_a_while_is_not_reused(stub: Stub, notes: list[RetryNote]) -> None:
    # uvicorn closes one idle for 5 s: reusing it just then could lose a POST.
    stub.answers(*[Answer(200, EMPTY_PAGE)] * 3)
    with client(stub, notes) as c:
        c.runs.list()
        c.runs.list()
        time.sleep(3.5)
        c.runs.list()
    ports = [s.client_port for s in stub.seen]
    assert ports[0] == ports[1] != ports[2], ports


# -- the policy alone -------------------------------------------------------------------


def _response(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers)


def test_only_requests_that_cannot_act_twice_are_replayable() -> None:
    def request(method: str, **headers: str) -> httpx.Request:
        return httpx.Request(method, "http://x/v1/runs", headers=headers)

    assert all(replayable(request(m)) for m in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS"))
    assert not replayable(request("POST")) and not replayable(request("PATCH"))
    assert replayable(request("POST", **{"Idempotency-Key": "k"}))


def test_retry_after_reads_seconds_and_http_dates_and_ignores_garbage() -> None:
    assert retry_after(_response(503, **{"Retry-After": "7"})) == 7
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after(_response(503, **{"Retry-After": soon})) or 0) <= 30
    assert retry_after(_response(503, **{"Retry-After": "soon"})) is None
    assert retry_after(_response(503)) is None


def test_a_long_retry_after_is_capped_and_a_wait_past_the_total_time_is_refused() -> None:
    request = httpx.Request("GET", "http://x/v1/runs")
    asks_an_hour = _response(503, **{"Retry-After": "3600"})
    capped = RetryPolicy(max_retry_after=10, total=60).start(request).after_response(asks_an_hour)
    assert capped is not None and 10 <= capped <= 11
    assert (
        RetryPolicy(max_retry_after=10, total=5).start(request).after_response(asks_an_hour) is None
    )


def test_backoff_grows_and_is_jittered() -> None:
    request = httpx.Request("GET", "http://x/v1/runs")
    policy = RetryPolicy(max_retries=4, backoff=0.5, max_backoff=2, total=3600)
    delays = [policy.start(request).after_error(httpx.ConnectError("no")) for _ in range(50)]
    assert all(d is not None and 0.25 <= d <= 0.5 for d in delays) and len(set(delays)) > 1
    attempts = policy.start(request)
    later = [attempts.after_error(httpx.ReadTimeout("slow")) for _ in range(4)]
    assert all(
        d is not None and cap / 2 <= d <= cap for d, cap in zip(later, (0.5, 1, 2, 2), strict=True)
    )
    assert attempts.after_error(httpx.ReadTimeout("slow")) is None  # the fifth: over max_retries


def test_the_cli_says_on_stderr_when_it_sends_a_call_again(stub: Stub) -> None:
    stub.answers(busy(), Answer(200, EMPTY_PAGE))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPLANE_")}
    done = subprocess.run(
        [sys.executable, "-m", "runplane.cli", "--url", stub.url, "runs", "ls"],
        env={**env, "RUNPLANE_API_KEY": "k"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"retrying in \d+\.\d s \(503\)\n", done.stderr), done.stderr
    assert "no runs" in done.stdout and len(stub.seen) == 2
