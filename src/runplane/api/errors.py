"""The one map from exceptions to HTTP responses in the public error model."""

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from runplane.domain.errors import RunplaneError, ServiceUnavailable, TooManyRequests
from runplane.store.unavailable import database_unavailable

log = logging.getLogger("runplane.api")
UNREADABLE_BODY = "the request body is not valid JSON"
# Long enough for a pool to drain or a restarted Postgres to accept connections again.
OVERLOAD_RETRY_AFTER = 2
OVERLOADED = "the database is busy or unreachable; nothing was changed, try again shortly"


# status, message, details ({name, value}), headers -> an error in another model
Render = Callable[[int, str, list[dict[str, Any]], dict[str, str] | None], Response]
_RENDERS: dict[str, Render] = {}


def render_under(prefix: str, render: Render) -> None:
    """Answer every error of a request under ``prefix`` with ``render`` (a dialect's model).

    Also those refused before any route reads them (a NUL in the URL, a body too large).
    """
    _RENDERS[prefix.rstrip("/") + "/"] = render


def error_response(
    status: int,
    message: str,
    details: Sequence[Mapping[str, object]] | None = None,
    headers: dict[str, str] | None = None,
    request: Request | None = None,
    path: str | None = None,
) -> Response:
    """A response in the error model: ``{status_code, message, details}``.

    Pages of the console get the error as a page instead, and requests under a dialect's
    prefix (``render_under``) the error in that dialect's model.
    """
    path = path if path is not None else request.url.path if request is not None else ""
    for prefix, render in _RENDERS.items():
        if path.startswith(prefix):
            return render(status, message, [dict(d) for d in details or []], headers)
    if request is not None and path.startswith("/console"):
        html_errors = getattr(request.app.state, "html_errors", None)
        if html_errors is not None:
            return html_errors(request, status, message)  # type: ignore[no-any-return]
    body = {"status_code": status, "message": message, "details": details or []}
    return JSONResponse(body, status_code=status, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [_text(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "body")


def _text(value: object) -> str:
    """``value`` as text that encodes (a key the client sent may be a lone surrogate)."""
    return str(value).encode("utf-8", "backslashreplace").decode()


Parts = tuple[int, str, list[dict[str, Any]], dict[str, str] | None]


def error_parts(exc: Exception) -> Parts | None:
    """Status, message, details and headers of an error a request can meet, in any model.

    None for an unexpected error (a bug, or the database failing): ``_unexpected`` decides.
    """
    if isinstance(exc, RunplaneError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if isinstance(exc, TooManyRequests | ServiceUnavailable):
            # Whole seconds, at least one: what RFC 9110 allows and clients parse.
            headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
        return exc.status, exc.message, [dict(d) for d in exc.details], headers
    if isinstance(exc, RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return 400, UNREADABLE_BODY, [{"name": "body", "value": None}], None
        details = [
            {"name": _field_name(tuple(e.get("loc", ()))), "value": e.get("input")} for e in errors
        ]
        first = errors[0] if errors else {}
        message = (
            f"{_field_name(tuple(first.get('loc', ())))}: {_text(first.get('msg', 'invalid'))}"
        )
        return 422, message, _jsonable(details), None
    if isinstance(exc, StarletteHTTPException):
        headers = getattr(exc, "headers", None)
        if exc.status_code == 400:
            # FastAPI's only 400: a body it could not parse (not JSON, a broken form).
            return 400, UNREADABLE_BODY, [{"name": "body", "value": None}], headers
        return exc.status_code, str(exc.detail), [], headers
    return None


async def _expected(request: Request, exc: Exception) -> Response:
    parts = error_parts(exc)
    assert parts is not None
    status, message, details, headers = parts
    return error_response(status, message, details, headers, request)


def _jsonable(details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for d in details:
        value = d["value"]
        if not isinstance(value, str | int | float | bool | list | dict | type(None)):
            value = str(value)
        try:
            # What was refused may be what JSON cannot say (NaN, nesting past the
            # encoder's depth): then the field is named without its value.
            json.dumps(value, allow_nan=False, ensure_ascii=False).encode()
        except (ValueError, TypeError, RecursionError):
            value = None
        out.append({"name": d["name"], "value": value})
    return out


def unavailable_parts(request: Request, exc: Exception) -> Parts | None:
    """The 503 a request that found the database unavailable gets (None if it did not)."""
    if not database_unavailable(exc):
        return None
    # A transaction that could not get or keep its connection was rolled back whole.
    log.warning(
        "database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__
    )
    return 503, OVERLOADED, [], {"Retry-After": str(OVERLOAD_RETRY_AFTER)}


async def _unexpected(request: Request, exc: Exception) -> Response:
    parts = unavailable_parts(request, exc)
    if parts is not None:
        status, message, details, headers = parts
        return error_response(status, message, details, headers, request)
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error; it has been logged", [], request=request)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(RunplaneError, _expected)
    app.add_exception_handler(RequestValidationError, _expected)
    app.add_exception_handler(StarletteHTTPException, _expected)
    app.add_exception_handler(Exception, _unexpected)
