"""A limit on request bodies, enforced before any handler reads them."""

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runplane.api.errors import error_response


class BodyTooLarge(Exception):  # noqa: N818 - control flow inside the middleware
    """The body went past the limit while it was being read."""


class BodySizeLimit:
    """Answer 413 for a body over ``max_bytes``, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check Content-Length, then count what is read."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._reject(scope, receive, send)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise BodyTooLarge
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> Any:
        response = error_response(
            413,
            f"the request body is larger than {self.max_bytes} bytes",
            [{"name": "body", "value": None}],
        )
        await response(scope, receive, send)
