"""Refuse a URL with a NUL character before any route reads it.

A percent-encoded NUL (``%00``) decodes into the path or a query value; Postgres
refuses NUL in text, so an id or a filter carrying one would fail inside the query
and answer 500. No id, name or filter of runplane can hold one: the request is a 400.
"""

from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from runplane.api.errors import error_response


class RefuseNulInUrl:
    """Answer 400 for a path or query string that decodes to a NUL character."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the decoded path and the query string, then pass the request on."""
        if scope["type"] == "http":
            for part, bad in (
                ("path", "\x00" in scope.get("path", "")),
                ("query", b"\x00" in unquote_to_bytes(scope.get("query_string", b""))),
            ):
                if bad:
                    response = error_response(
                        400,
                        f"the {part} of the URL may not contain a NUL character",
                        [{"name": part, "value": None}],
                        path=scope.get("path", ""),
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
