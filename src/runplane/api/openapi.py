"""The OpenAPI document: FastAPI's, plus every error an operation can answer, in one place.

FastAPI documents only the success response and its own 422. runplane answers every
error in one model (``ErrorBody``), so the errors are added here, for every operation,
from what the operation is: authenticated (its ``security``, from ``api/deps.py``) or
not, with a body, with path parameters, a write. A route that can answer more (a 410
for an expired link) says so with FastAPI's ``responses=``; its body is filled in here.
"""

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from pydantic import TypeAdapter

from runplane.api.dialects._route import STATUS_MAP
from runplane.schemas import ErrorBody

ERROR_REF = "#/components/schemas/ErrorBody"
WHY: dict[int, str] = {
    400: "The request cannot be read: malformed JSON, a broken token or cursor",
    401: "No API key, or one that is unknown or revoked",
    403: "The key's role (or the user it is bound to) does not allow this",
    404: "No such resource for this tenant",
    409: "The resource's state does not allow this",
    410: "It existed, but is no longer usable",
    413: "The request body is over the configured limit",
    422: "The request breaks a rule; `details` name the fields at fault",
    429: "A quota or rate limit was hit; `Retry-After` says when to try again",
    503: "The database is busy or unreachable; nothing was changed; `Retry-After` says when "
    "to try again",
}
RETRY_AFTER = {
    "description": "Seconds to wait before trying again",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}
WRITES = {"post", "put", "patch", "delete"}


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and so ``/openapi.json``) document the errors too."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        add_errors(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def add_errors(document: dict[str, Any]) -> None:
    """Add the error model and each operation's error responses (idempotent)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    _add_error_body(schemas)
    for operations in document.get("paths", {}).values():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            # A dialect answers some of runplane's statuses with its own (_route.py).
            mapped = {int(k): v for k, v in operation.get(STATUS_MAP, {}).items()}
            for status in _statuses(method, operation):
                answered = mapped.get(status, status)
                responses.setdefault(str(answered), {"description": WHY[answered]})
            for status, answered in mapped.items():
                if str(status) in responses:
                    responses.setdefault(str(answered), responses.pop(str(status)))
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    _error_response(int(status), response)
    # FastAPI's own 422 model is never answered: the handler answers ErrorBody.
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def _statuses(method: str, operation: dict[str, Any]) -> Iterator[int]:
    """What an operation can answer besides success, from what it takes and does."""
    has_body = "requestBody" in operation
    parameters = operation.get("parameters", [])
    # Any request can be unreadable (a NUL in its URL, a body that is not JSON), and can
    # find the database overloaded or restarting.
    yield from (400, 503)
    if has_body or parameters:
        # Any input can break a rule, or name something that is not there.
        yield from (404, 422)
    if has_body:
        yield 413
    if method in WRITES:
        yield 409
    if operation.get("security"):
        yield from (401, 429)
        if method in WRITES:
            # Every role may read; a read only some roles may do declares its 403 itself.
            yield 403


def _error_response(status: int, response: dict[str, Any]) -> None:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    # A route that declares an error model of its own (a dialect's) keeps it; FastAPI's
    # validation model is never answered, so it gives way to ErrorBody.
    if not schema or schema.get("$ref", "").endswith("/HTTPValidationError"):
        response["content"] = {"application/json": {"schema": {"$ref": ERROR_REF}}}
    response.setdefault("description", WHY.get(status, "An error"))
    if status in (429, 503):
        response.setdefault("headers", {"Retry-After": RETRY_AFTER})


def _add_error_body(schemas: dict[str, Any]) -> None:
    if "ErrorBody" in schemas:
        return
    schema = TypeAdapter(ErrorBody).json_schema(
        ref_template="#/components/schemas/{model}", mode="serialization"
    )
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas["ErrorBody"] = schema
