"""Stub model servers on loopback: OpenAI-compatible Chat Completions and Anthropic Messages.

Real HTTP on 127.0.0.1 (a free port, uvicorn in a thread), streaming included, with
scripted replies::

    with ModelStub() as stub:
        stub.script(Reply(status=429, retry_after="1"), Reply(text="hello", pieces=3))
        provider = OpenAIProvider(base_url=stub.openai_url, ...)

The server answers ``POST /v1/chat/completions`` (OpenAI) and ``POST /v1/messages``
(Anthropic); each request takes the next scripted ``Reply``, or ``default(body)`` when
the script is empty. ``stub.requests`` keeps the JSON bodies received, ``stub.closed_early``
counts streams the client hung up on before their end, ``stub.answer_seconds`` the time
each answer took on the server (for ``bench/provider_overhead.py``).
"""

import asyncio
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from runplane.testing.server import free_port


@dataclass
class Reply:
    """One scripted answer of the stub.

    ``status`` other than 200 answers with that error (``retry_after`` as the header);
    ``tool_calls`` are ``{"name", "arguments", "id"?}``; a streamed answer is sent in
    ``pieces`` parts, after ``first_token_delay`` seconds, ``piece_delay`` between parts,
    and ``cut_after`` parts the connection is dropped mid-answer. ``usage`` overrides the
    counted tokens (keys ``input_tokens``, ``output_tokens``, ``cached_tokens``,
    ``reasoning_tokens``).
    """

    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    error: str = "the stub refused"
    retry_after: str | None = None
    pieces: int = 4
    first_token_delay: float = 0.0
    piece_delay: float = 0.0
    cut_after: int | None = None
    usage: dict[str, int] = field(default_factory=dict)

    @classmethod
    def json(cls, value: Any, **options: Any) -> "Reply":
        """An answer whose text is ``value`` as JSON."""
        return cls(text=json.dumps(value), **options)


def words(text: str) -> int:
    """The stub's token count: words."""
    return len(text.split())


def _prompt_text(body: dict[str, Any]) -> str:
    parts = [str(body.get("system") or "")]
    for message in body.get("messages") or []:
        content = message.get("content")
        parts.append(content if isinstance(content, str) else json.dumps(content))
    return " ".join(parts)


def echo(body: dict[str, Any]) -> Reply:
    """The default answer: the last user message, repeated."""
    last = ""
    for message in body.get("messages") or []:
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            last = message["content"]
    return Reply(text=f"stub answer to: {last}")


class _Cut(Exception):
    """Drops the connection mid-answer (uvicorn closes it without ending the body)."""


class ModelStub:
    """Both stub servers on one loopback port; a context manager that starts and stops it."""

    def __init__(self, default: Callable[[dict[str, Any]], Reply] = echo) -> None:
        self.default = default
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.closed_early = 0
        self.answer_seconds: list[float] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.openai_url = f"{self.url}/v1"
        self.anthropic_url = self.url
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def script(self, *replies: Reply) -> None:
        """Queue replies, answered in order by the next requests."""
        with self._lock:
            self._script.extend(replies)

    def reset(self) -> None:
        """Forget the script, the requests and the counters."""
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.headers.clear()
            self.answer_seconds.clear()
            self.closed_early = 0

    def _next(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            return self._script.popleft() if self._script else self.default(body)

    def start(self) -> "ModelStub":
        """Serve in a thread until ``stop``."""
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._openai, methods=["POST"]),
                Route("/v1/messages", self._anthropic, methods=["POST"]),
            ]
        )
        # No log config: one would rewire this process's "uvicorn" loggers for good.
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the model stub did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> "ModelStub":
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- shared -------------------------------------------------------------------

    def _usage(self, body: dict[str, Any], reply: Reply) -> dict[str, int]:
        out = reply.text + "".join(json.dumps(c.get("arguments", {})) for c in reply.tool_calls)
        counted = {
            "input_tokens": words(_prompt_text(body)),
            "output_tokens": words(out),
            "cached_tokens": 0,
            "reasoning_tokens": 0,
        }
        return {**counted, **reply.usage}

    def _error(self, reply: Reply, *, anthropic: bool) -> Response:
        headers = {"retry-after": reply.retry_after} if reply.retry_after else {}
        if anthropic:
            payload: dict[str, Any] = {
                "type": "error",
                "error": {"type": "api_error", "message": reply.error},
            }
        else:
            payload = {"error": {"message": reply.error, "type": "stub_error", "code": None}}
        return JSONResponse(payload, status_code=reply.status, headers=headers)

    def _stream(self, events: Callable[[], AsyncIterator[str]], reply: Reply) -> Response:
        started = time.perf_counter()

        async def body() -> AsyncIterator[str]:
            finished = False
            try:
                if reply.first_token_delay:
                    await asyncio.sleep(reply.first_token_delay)
                async for event in events():
                    yield event
                finished = True
            finally:
                if not finished:
                    self.closed_early += 1
                self.answer_seconds.append(time.perf_counter() - started)

        return StreamingResponse(body(), media_type="text/event-stream")

    async def _pieces(self, reply: Reply) -> AsyncIterator[str]:
        text, count = reply.text, max(1, reply.pieces)
        size = max(1, -(-len(text) // count)) if text else 1
        for number, start in enumerate(range(0, len(text), size)):
            if reply.cut_after is not None and number >= reply.cut_after:
                raise _Cut()
            if number and reply.piece_delay:
                await asyncio.sleep(reply.piece_delay)
            yield text[start : start + size]

    # ---- OpenAI Chat Completions ---------------------------------------------------

    async def _openai(self, request: Request) -> Response:
        body = await request.json()
        reply = self._next(body, dict(request.headers))
        if reply.status != 200:
            return self._error(reply, anthropic=False)
        if not body.get("model") or not isinstance(body.get("messages"), list):
            return JSONResponse({"error": {"message": "model and messages needed"}}, 400)
        started = time.perf_counter()
        ident, model = f"chatcmpl-{uuid.uuid4().hex[:20]}", body["model"]
        usage = self._usage(body, reply)
        wire_usage = {
            "prompt_tokens": usage["input_tokens"],
            "completion_tokens": usage["output_tokens"],
            "total_tokens": usage["input_tokens"] + usage["output_tokens"],
            "prompt_tokens_details": {"cached_tokens": usage["cached_tokens"]},
            "completion_tokens_details": {"reasoning_tokens": usage["reasoning_tokens"]},
        }
        calls: list[dict[str, Any]] = [
            {
                "id": c.get("id") or f"call_{index}",
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments", {}))},
            }
            for index, c in enumerate(reply.tool_calls)
        ]
        finish = "tool_calls" if calls else "stop"
        if not body.get("stream"):
            if reply.first_token_delay:
                await asyncio.sleep(reply.first_token_delay)
            message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
            if calls:
                message["tool_calls"] = calls
            self.answer_seconds.append(time.perf_counter() - started)
            return JSONResponse(
                {
                    "id": ident,
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
                    ],
                    "usage": wire_usage,
                }
            )
        with_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
            data = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }
            return f"data: {json.dumps(data)}\n\n"

        async def events() -> AsyncIterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            async for piece in self._pieces(reply):
                yield chunk({"content": piece})
            for index, call in enumerate(calls):
                arguments = call["function"]["arguments"]
                half = len(arguments) // 2
                head = {"name": call["function"]["name"], "arguments": arguments[:half]}
                yield chunk(
                    {
                        "tool_calls": [
                            {"index": index, "id": call["id"], "type": "function", "function": head}
                        ]
                    }
                )
                yield chunk(
                    {"tool_calls": [{"index": index, "function": {"arguments": arguments[half:]}}]}
                )
            yield chunk({}, finish)
            if with_usage:
                data = {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [],
                    "usage": wire_usage,
                }
                yield f"data: {json.dumps(data)}\n\n"
            yield "data: [DONE]\n\n"

        return self._stream(events, reply)

    # ---- Anthropic Messages --------------------------------------------------------

    async def _anthropic(self, request: Request) -> Response:
        body = await request.json()
        reply = self._next(body, dict(request.headers))
        if reply.status != 200:
            return self._error(reply, anthropic=True)
        if not body.get("model") or not body.get("max_tokens"):
            return JSONResponse(
                {
                    "type": "error",
                    "error": {
                        "type": "invalid_request_error",
                        "message": "model and max_tokens needed",
                    },
                },
                400,
            )
        started = time.perf_counter()
        ident, model = f"msg_{uuid.uuid4().hex[:20]}", body["model"]
        usage = self._usage(body, reply)
        wire_usage = {
            "input_tokens": usage["input_tokens"] - usage["cached_tokens"],
            "output_tokens": usage["output_tokens"],
            "cache_read_input_tokens": usage["cached_tokens"],
            "cache_creation_input_tokens": 0,
        }
        uses = [
            {
                "type": "tool_use",
                "id": c.get("id") or f"toolu_{index}",
                "name": c["name"],
                "input": c.get("arguments", {}),
            }
            for index, c in enumerate(reply.tool_calls)
        ]
        stop = "tool_use" if uses else "end_turn"
        if not body.get("stream"):
            if reply.first_token_delay:
                await asyncio.sleep(reply.first_token_delay)
            content: list[dict[str, Any]] = (
                [{"type": "text", "text": reply.text}] if reply.text else []
            )
            self.answer_seconds.append(time.perf_counter() - started)
            return JSONResponse(
                {
                    "id": ident,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": content + uses,
                    "stop_reason": stop,
                    "stop_sequence": None,
                    "usage": wire_usage,
                }
            )

        def event(kind: str, data: dict[str, Any]) -> str:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

        async def events() -> AsyncIterator[str]:
            start_usage = {**wire_usage, "output_tokens": 1}
            message = {
                "id": ident,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": start_usage,
            }
            yield event("message_start", {"message": message})
            index = 0
            if reply.text:
                yield event(
                    "content_block_start",
                    {"index": 0, "content_block": {"type": "text", "text": ""}},
                )
                async for piece in self._pieces(reply):
                    yield event(
                        "content_block_delta",
                        {"index": 0, "delta": {"type": "text_delta", "text": piece}},
                    )
                yield event("content_block_stop", {"index": 0})
                index = 1
            for use in uses:
                block = {**use, "input": {}}
                yield event("content_block_start", {"index": index, "content_block": block})
                partial = json.dumps(use["input"])
                half = len(partial) // 2
                for part in (partial[:half], partial[half:]):
                    yield event(
                        "content_block_delta",
                        {
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": part},
                        },
                    )
                yield event("content_block_stop", {"index": index})
                index += 1
            yield event(
                "message_delta",
                {
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": {"output_tokens": wire_usage["output_tokens"]},
                },
            )
            yield event("message_stop", {})

        return self._stream(events, reply)
