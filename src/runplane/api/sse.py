"""Server-sent events: how every stream the server sends is written.

One encoder for the runs API, the Agent Protocol and the console: a message's
``id:``/``event:``/``data:`` lines, the keep-alive comment, and the response headers.
"""

import time
from collections.abc import AsyncIterator, Mapping

from fastapi.responses import StreamingResponse

KEEPALIVE = b": keep-alive\n\n"
KEEPALIVE_SECONDS = 15.0
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
