"""Server-sent events: how every stream the server sends is written.

One encoder for the runs API, the Agent Protocol and the console: a message's
``id:``/``event:``/``data:`` lines, the keep-alive comment, and the response headers.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing

from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from runplane.domain.models import EventRecord, Principal
from runplane.services.runtime import Runtime

KEEPALIVE = b": keep-alive\n\n"
KEEPALIVE_SECONDS = 15.0
# The last words of a stream cut at its time limit: the client reconnects and resumes.
TIME_LIMIT = b": time limit reached; reconnect with Last-Event-ID to resume\n\n"
# Proxies (nginx) must pass each message on at once, and nothing may cache a live stream.
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_message(
    event: str, data: str, event_id: int | str | None = None, *, id_first: bool = True
) -> bytes:
    """One message: ``id:``, ``event:`` and ``data:`` lines, then the blank line ending it.

    ``data`` is already serialised (JSON, usually); each of its lines is a ``data:`` line.
    """
    lines = [f"event: {event}"]
    if event_id is not None:
        # The Agent Protocol's streams have always sent ``id:`` after ``event:``; the
        # order means nothing to clients, and the bytes on the wire stay as they were.
        lines.insert(0 if id_first else 1, f"id: {event_id}")
    lines += [f"data: {line}" for line in data.split("\n")]
    return ("\n".join(lines) + "\n\n").encode()


class KeepAlive:
    """Tells an idle stream when to send the keep-alive comment (proxies close silent ones)."""

    def __init__(self, every: float = KEEPALIVE_SECONDS) -> None:
        self.every = every
        self._last = time.monotonic()

    def sent(self) -> None:
        """Note that the stream just sent a message."""
        self._last = time.monotonic()

    def due(self) -> bool:
        """Whether the stream has been silent for ``every`` seconds (if so, it now counts as sent)."""
        now = time.monotonic()
        if now - self._last < self.every:
            return False
        self._last = now
        return True


def sse_response(
    body: AsyncIterator[bytes], headers: Mapping[str, str] | None = None
) -> StreamingResponse:
    """A ``text/event-stream`` response of ``body``'s messages; ``headers`` add or override."""
    return StreamingResponse(
        body, media_type="text/event-stream", headers={**HEADERS, **(headers or {})}
    )


class _ClosingStream(StreamingResponse):
    """A streaming response that calls ``on_close`` once it is over, however it ended."""

    def __init__(
        self,
        body: AsyncIterator[bytes],
        headers: Mapping[str, str],
        on_close: Callable[[], None],
    ) -> None:
        super().__init__(body, media_type="text/event-stream", headers=headers)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the stream, then give its slot back."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_close()


def limited_sse_response(
    rt: Runtime,
    who: Principal,
    body: AsyncIterator[bytes],
    headers: Mapping[str, str] | None = None,
) -> StreamingResponse:
    """An event stream counted against the key's cap and cut at the time limit.

    Raises TooManyRequests (429, with ``Retry-After``) if the key holds its cap already.
    """
    rt.streams.take(who.key_id)
    limited = within(body, rt.streams.max_seconds)
    return _ClosingStream(
        limited, {**HEADERS, **(headers or {})}, lambda: rt.streams.give_back(who.key_id)
    )


async def within(body: AsyncIterator[bytes], seconds: float) -> AsyncIterator[bytes]:
    """``body``'s messages for at most ``seconds``; then a comment, and the stream ends.

    A message is never cut in half: the limit falls between two of them, so a client
    that resumes from the last ``id:`` it got misses nothing and sees nothing twice.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    async with aclosing(body):  # type: ignore[type-var]
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    message = await anext(body)
            except StopAsyncIteration:
                return
            except TimeoutError:
                break
            yield message
    yield TIME_LIMIT


async def event_messages(
    rows: AsyncIterator[EventRecord | None],
    render: Callable[[EventRecord], Awaitable[tuple[str, str] | None]],
) -> AsyncIterator[bytes]:
    """One message per rendered event (``id`` is its seq, for ``Last-Event-ID``); a
    keep-alive when idle (a ``None`` row). ``render`` gives the event's name and data, or
    None to leave the event out."""
    keepalive = KeepAlive()
    async for row in rows:
        if row is None:
            if keepalive.due():
                yield KEEPALIVE
            continue
        out = await render(row)
        if out is None:
            continue
        keepalive.sent()
        yield sse_message(out[0], out[1], row["seq"])
