"""The one map from exceptions to HTTP responses in the public error model."""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from runplane.domain.errors import RunplaneError

log = logging.getLogger("runplane.api")


def error_response(
    status: int,
    message: str,
    details: Sequence[Mapping[str, object]] | None = None,
    headers: dict[str, str] | None = None,
    request: Request | None = None,
) -> Response:
    """A response in the error model: ``{status_code, message, details}``.

    Pages of the console get the error as a page instead.
    """
    if request is not None and request.url.path.startswith("/console"):
        html_errors = getattr(request.app.state, "html_errors", None)
        if html_errors is not None:
            return html_errors(request, status, message)  # type: ignore[no-any-return]
    body = {"status_code": status, "message": message, "details": details or []}
    return JSONResponse(body, status_code=status, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "body")


async def _runplane_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RunplaneError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(exc.status, exc.message, exc.details, headers, request)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(
            400, "the request body is not valid JSON", [{"name": "body", "value": None}]
        )
    details = [
        {"name": _field_name(tuple(e.get("loc", ()))), "value": e.get("input")} for e in errors
    ]
    first = errors[0] if errors else {}
    message = f"{_field_name(tuple(first.get('loc', ())))}: {first.get('msg', 'invalid')}"
    return error_response(422, message, _jsonable(details), request=request)


def _jsonable(details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for d in details:
        value = d["value"]
        if not isinstance(value, str | int | float | bool | list | dict | type(None)):
            value = str(value)
        out.append({"name": d["name"], "value": value})
    return out


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = getattr(exc, "headers", None)
    return error_response(exc.status_code, str(exc.detail), [], headers, request)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error; it has been logged", [], request=request)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(RunplaneError, _runplane_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
