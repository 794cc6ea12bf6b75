"""Fuzzing helpers: schemathesis drives the session's in-process app.

Schemathesis sends its cases through a ``requests`` session; this one hands each request
to the ASGI app on the test session's event loop (where the app's database pools live),
so the fuzzer exercises the same app, database and worker as every other test, with no
socket. Event streams are read for a short while and then cut, as a client would.
"""

import asyncio
import io
from collections.abc import Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
import requests.adapters
import schemathesis
import urllib3
from fastapi import FastAPI
from schemathesis.specs.openapi.schemas import OpenApiSchema

from runplane.app import create_app
from runplane.settings import Settings

PROJECT = Path(__file__).resolve().parents[2] / "runplane.toml"
BASE_URL = "http://runplane.test"
# How long an event stream is read before the client hangs up: long enough for a run
# of the example agents to finish, short enough that a paused run costs little.
STREAM_SECONDS = 0.5


async def _call_app(
    app: FastAPI, request: requests.PreparedRequest
) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request to the app, as a server would make it; event streams are cut short."""
    parts = urlsplit(str(request.url))
    headers = [(b"host", b"runplane.test")] + [
        (k.lower().encode("latin-1"), v.encode("latin-1"))
        for k, v in request.headers.items()
        if k.lower() != "host"
    ]
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": unquote(parts.path),
        "raw_path": parts.path.encode(),
        "root_path": "",
        "query_string": parts.query.encode(),
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("runplane.test", 80),
    }
    status = 0
    response_headers: list[tuple[str, str]] = []
    chunks: list[bytes] = []
    done = asyncio.Event()
    sent = False

    async def receive() -> Mapping[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Mapping[str, Any]) -> None:
        nonlocal status, response_headers
        if message["type"] == "http.response.start":
            status = message["status"]
            response_headers = [
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])
            ]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    task = asyncio.ensure_future(app(scope, receive, send))
    streaming = False
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=STREAM_SECONDS)
    except TimeoutError:
        streaming = any(
            k.lower() == "content-type" and v.startswith("text/event-stream")
            for k, v in response_headers
        )
        if not streaming:
            # Not a stream: a slow answer (a run being waited for); wait for it.
            await task
    except Exception:
        # Starlette re-raises what it answered 500 for; a server logs it and goes on,
        # and the 500 is what the checks see.
        if not status:
            raise
    finally:
        done.set()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    data = b"".join(chunks)
    if streaming:
        # Keep whole events only, as a client that hung up mid-event would.
        data = data[: data.rfind(b"\n\n") + 2] if b"\n\n" in data else b""
    return status, response_headers, data


class _InProcessAdapter(requests.adapters.HTTPAdapter):
    """A transport adapter that answers from the app instead of the network."""

    def __init__(self, app: FastAPI, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.app = app
        self.loop = loop

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Run the request to completion on the app's event loop."""
        status, headers, body = self.loop.run_until_complete(_call_app(self.app, request))
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(body),
            headers=headers,
            status=status,
            reason=reason,
            version=11,
            preload_content=False,
            decode_content=False,
        )
        return self.build_response(request, raw)


class InProcessSession(requests.Session):
    """A ``requests`` session whose requests go to the in-process app."""

    def __init__(self, app: FastAPI, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.mount("http://", _InProcessAdapter(app, loop))


def load_schema(config: dict[str, Any]) -> OpenApiSchema:
    """The app's OpenAPI document, ready for schemathesis with ``config``.

    Built at collection, as schemathesis makes one test per operation then; a test
    checks that it is the document ``/openapi.json`` serves.
    """
    document = create_app(Settings(database_url="sqlite://", project=PROJECT)).openapi()
    return schemathesis.openapi.from_dict(
        document,
        config=schemathesis.Config.from_dict({"base-url": BASE_URL, **config}),
    )


def unreadable(response: requests.Response) -> bool:
    """A 400 for a request that cannot be read (its body, a NUL in its URL).

    Such a request is refused before its key is looked at.
    """
    if response.status_code != 400:
        return False
    details = response.json()["details"]
    # A dialect whose model has no null value (Kognitos) sends it as its JSON text.
    return len(details) == 1 and details[0] in (
        {"name": part, "value": value}
        for part in ("body", "path", "query")
        for value in (None, "null")
    )
