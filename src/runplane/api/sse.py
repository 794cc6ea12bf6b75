"""Server-sent events: one message per run event, ``id`` being its seq."""

import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse

from runplane.api.convert import event_public

KEEPALIVE_SECONDS = 15.0


async def _messages(rows: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    last = time.monotonic()
    async for row in rows:
        now = time.monotonic()
        if row is None:
            if now - last >= KEEPALIVE_SECONDS:
                last = now
                yield b": keep-alive\n\n"
            continue
        last = now
        data = event_public(row).model_dump_json()
        yield f"id: {row['seq']}\nevent: {row['type']}\ndata: {data}\n\n".encode()


def event_stream(rows: AsyncIterator[Any]) -> StreamingResponse:
    """Stream rows (None for an idle tick) as ``text/event-stream``."""
    return StreamingResponse(
        _messages(rows),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
