"""What the Agent Protocol routes share: fast JSON answers and search pages."""

from collections.abc import Callable
from typing import Any

from fastapi import Response

from runplane.graphs.wire import dumps
from runplane.schemas.agent_protocol import Search


def json_answer(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response, serialised once with orjson (no response model on hot paths)."""
    return Response(dumps(data), status_code=status, media_type="application/json", headers=headers)


def search_answer(
    rows: list[Any], shape: Callable[[Any], dict[str, Any]], body: Search
) -> Response:
    """One page of search results (offset, limit, ``select``), and where the next starts."""
    end = body.offset + body.limit
    return page_answer(rows[body.offset : end], len(rows) > end, shape, body)


def page_answer(
    page: list[Any], more: bool, shape: Callable[[Any], dict[str, Any]], body: Search
) -> Response:
    """A page already cut to ``body``'s offset and limit (``select`` applied here)."""
    items = [shape(r) for r in page]
    if body.select:
        items = [{k: v for k, v in item.items() if k in body.select} for item in items]
    headers = {"X-Pagination-Next": str(body.offset + body.limit)} if more else None
    return json_answer(items, headers=headers)


def run_location(thread_id: str, run_id: str) -> dict[str, str]:
    """The header that tells the SDK which run a create or stream started."""
    return {"Content-Location": f"/threads/{thread_id}/runs/{run_id}"}
