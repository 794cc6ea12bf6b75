"""What every dialect shares: its errors in its own model, its ids in its own form."""

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from runplane.api.errors import Parts, Render, error_parts, render_under, unavailable_parts

# An operation's key in the OpenAPI document: runplane's status -> the one answered.
STATUS_MAP = "x-runplane-status-map"


def dialect_route(
    render: Render, statuses: Mapping[int, int] | None = None, *, prefix: str | None = None
) -> type[APIRoute]:
    """A route class whose errors ``render`` answers, with statuses mapped by ``statuses``.

    ``statuses`` maps runplane's status to the dialect's (Kognitos answers invalid input
    with 400 where runplane answers 422). With ``prefix``, errors the app answers before
    or without a route (a NUL in the URL, a body too large, an unknown path) are rendered
    the same way.
    """
    mapped = dict(statuses or {})
    if prefix is not None:
        render_under(prefix, render)

    class DialectRoute(APIRoute):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if mapped:
                # So that runplane's /openapi.json documents the statuses answered
                # (api/openapi.py reads this).
                extra = {STATUS_MAP: {str(k): v for k, v in mapped.items()}}
                self.openapi_extra = {**(self.openapi_extra or {}), **extra}

        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                try:
                    return await handler(request)
                except Exception as exc:
                    parts: Parts | None = error_parts(exc) or unavailable_parts(request, exc)
                    if parts is None:
                        raise  # a bug: the app's handler logs it and answers 500
                    status, message, details, headers = parts
                    return render(mapped.get(status, status), message, details, headers)

            return handle

    return DialectRoute
