"""What the Agent Protocol routes share: fast JSON answers and SSE responses."""

from collections.abc import AsyncIterator
from typing import Any

from fastapi import Response
from fastapi.responses import StreamingResponse

from runplane.graphs.wire import dumps


def json_answer(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response, serialised once with orjson (no response model on hot paths)."""
    return Response(dumps(data), status_code=status, media_type="application/json", headers=headers)


def sse_answer(
    body: AsyncIterator[bytes], headers: dict[str, str] | None = None
) -> StreamingResponse:
    """A server-sent event stream."""
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", **(headers or {})},
    )


def run_location(thread_id: str, run_id: str) -> dict[str, str]:
    """The header that tells the SDK which run a create or stream started."""
    return {"Content-Location": f"/threads/{thread_id}/runs/{run_id}"}
