"""Fake model servers (OpenAI- and Anthropic-compatible) as ASGI apps, for tests.

Reach them without a socket: ``OpenAIProvider(base_url="http://fake/v1",
transport=asgi_transport(fake_openai_app(reply)))``. Each app keeps the JSON bodies it
received in ``app.state.requests``; a ``reply`` that raises ``FakeModelError`` makes
the server answer with that HTTP error.
"""

import time
import uuid
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from runplane.outbound.transport import http_library

Reply = Callable[[list[dict[str, Any]]], str]


class FakeModelError(Exception):
    """Raised by a fake's ``reply`` to answer with an HTTP error (429, 500…)."""

    def __init__(self, status: int, message: str = "the fake model refused") -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def fake_openai_app(reply: Reply) -> Starlette:
    """An app answering ``POST /v1/chat/completions`` with ``reply(messages)``."""

    async def chat_completions(request: Request) -> JSONResponse:
        body = await request.json()
        request.app.state.requests.append(body)
        messages = body.get("messages")
        if not isinstance(messages, list) or not body.get("model"):
            return _openai_error(400, "'model' and a list of 'messages' are required")
        try:
            text = reply(messages)
        except FakeModelError as exc:
            return _openai_error(exc.status, exc.message)
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": _openai_usage(messages, text),
            }
        )

    app = Starlette(routes=[Route("/v1/chat/completions", chat_completions, methods=["POST"])])
    app.state.requests = []
    return app


def fake_anthropic_app(reply: Reply) -> Starlette:
    """An app answering ``POST /v1/messages`` with ``reply(messages)``.

    The ``system`` parameter reaches ``reply`` as a leading system message.
    """

    async def messages(request: Request) -> JSONResponse:
        body = await request.json()
        request.app.state.requests.append(body)
        conversation = list(body.get("messages") or [])
        if body.get("system"):
            conversation.insert(0, {"role": "system", "content": body["system"]})
        try:
            text = reply(conversation)
        except FakeModelError as exc:
            error = {"type": "error", "error": {"type": "api_error", "message": exc.message}}
            return JSONResponse(error, status_code=exc.status)
        return JSONResponse(
            {
                "id": f"msg_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", "fake"),
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {
                    "input_tokens": _count_tokens(conversation),
                    "output_tokens": len(text.split()),
                },
            }
        )

    app = Starlette(routes=[Route("/v1/messages", messages, methods=["POST"])])
    app.state.requests = []
    return app


def asgi_transport(app: Any, sdk: str = "openai") -> Any:
    """An ASGI transport to ``app`` from the HTTP library that ``sdk``'s client is built on.

    Recent SDKs moved from ``httpx`` to ``httpx2``, whose transports are not interchangeable.
    """
    return http_library(__import__(sdk).DefaultAsyncHttpxClient).ASGITransport(app=app)


def _openai_usage(messages: list[dict[str, Any]], text: str) -> dict[str, int]:
    prompt, completion = _count_tokens(messages), len(text.split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _count_tokens(messages: list[dict[str, Any]]) -> int:
    # Words stand in for tokens: enough for tests that usage is passed through.
    return sum(len(str(m.get("content", "")).split()) for m in messages)


def _openai_error(status: int, message: str) -> JSONResponse:
    body = {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    }
    return JSONResponse(body, status_code=status)
