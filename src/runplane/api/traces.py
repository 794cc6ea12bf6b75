"""The server span of each HTTP request, when traces are on (``engine/tracing.py``)."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runplane.engine import tracing


class TraceRequests:
    """Open a server span per request (joining the caller's ``traceparent``); off: pass."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request inside its span."""
        if scope["type"] != "http" or not tracing.active():
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        with tracing.request(scope["method"], scope["path"], headers) as current:

            async def sending(message: Message) -> None:
                if message["type"] == "http.response.start":
                    tracing.set_status_code(current, int(message["status"]))
                await send(message)

            await self.app(scope, receive, sending)
            # Named by its route's template once routing found it ("GET /v1/runs/{run_id}"):
            # one name per endpoint, not one per run.
            path = getattr(scope.get("route"), "path", None)
            if isinstance(path, str):
                tracing.rename(current, f"{scope['method']} {path}")
