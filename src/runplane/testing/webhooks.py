"""A local webhook receiver for tests: records what is POSTed to it, headers and raw body.

A runplane server refuses to call loopback addresses unless told otherwise; a test that
points a webhook here allows exactly this receiver (``allow_entry``) through
``RUNPLANE_OUTBOUND_ALLOW`` or ``Settings.outbound_allow``.
"""

import http.server
import json
import threading
from typing import Any


class WebhookReceiver:
    """A small threaded HTTP server that keeps every POST it gets, in order."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, redirect_to: str | None = None
    ) -> None:
        received: list[dict[str, Any]] = []
        self.received = received
        self.redirect_to = redirect_to  # answer 307 with this Location (redirect tests)
        # Statuses to answer first, one per POST, before the usual 200 (retry tests).
        self.answers: list[int] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                headers = {k.lower(): v for k, v in self.headers.items()}
                received.append({"path": self.path, "headers": headers, "raw": raw, "body": body})
                scripted = receiver.answers.pop(0) if receiver.answers else None
                self.send_response(scripted or (307 if receiver.redirect_to else 200))
                if receiver.redirect_to:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((host, port), Handler)
        self.host = host
        self.port = int(self.server.server_address[1])
        self.url = f"http://{host}:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def allow_entry(self) -> str:
        """The ``RUNPLANE_OUTBOUND_ALLOW`` entry that lets a server call this receiver only."""
        return f"{self.host}:{self.port}"

    def start(self) -> "WebhookReceiver":
        """Start serving in a background thread."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "WebhookReceiver":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
