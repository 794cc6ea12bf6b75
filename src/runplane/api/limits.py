"""A limit on request bodies, enforced before any handler reads them."""

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runplane.api.errors import error_response


class BodySizeLimit:
    """Answer 413 for a body over ``max_bytes``, whether declared or streamed.

    ``paths`` gives some paths a limit of their own (uploads, whose route checks each
    file against its own limit as it reads).
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, paths: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.paths = dict(paths or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check Content-Length; a body without one is read up to the limit first."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope.get("path", ""), self.max_bytes)
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None:
            if length.isdigit() and int(length) > limit:
                await self._reject(scope, receive, send, limit)
                return
            await self.app(scope, receive, send)
            return
        # A chunked body: buffer it (it is at most max_bytes), then replay it.
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            seen += len(message.get("body", b""))
            if seen > limit:
                await self._reject(scope, receive, send, limit)
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = error_response(
            413,
            f"the request body is larger than {limit} bytes",
            [{"name": "body", "value": None}],
            path=scope.get("path", ""),
        )
        await response(scope, receive, send)
