"""The exceptions of the client, and how an error response becomes one."""

import httpx
from pydantic import ValidationError as SchemaError

from runplane.schemas import ErrorBody
from runplane.schemas.wire import ErrorDetail


class RunplaneClientError(Exception):
    """Base of every error the client raises."""


class RunplaneAPIError(RunplaneClientError):
    """The server answered with an error (or with a body the client cannot read)."""

    def __init__(
        self, status_code: int, message: str, details: list[ErrorDetail] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.details = list(details or [])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status_code}, {self.message!r}, {self.details!r})"


class BadRequestError(RunplaneAPIError):
    """400: the request could not be read."""


class AuthenticationError(RunplaneAPIError):
    """401: no API key, or one the server does not know."""


class NotFoundError(RunplaneAPIError):
    """404: the resource does not exist (for this key's tenant)."""


class ConflictError(RunplaneAPIError):
    """409: the resource's state does not allow the request."""


class GoneError(RunplaneAPIError):
    """410: the resource existed but no longer does (an expired approval link)."""


class PayloadTooLargeError(RunplaneAPIError):
    """413: the request body is over the server's limit."""


class ValidationError(RunplaneAPIError):
    """422: the request breaks a rule; ``details`` names the fields."""


class ServerError(RunplaneAPIError):
    """5xx: the server failed."""


class RunplaneConnectionError(RunplaneClientError, ConnectionError):
    """The server could not be reached, or the connection broke."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.message = message
        self.url = url


_ERRORS_BY_STATUS: dict[int, type[RunplaneAPIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    413: PayloadTooLargeError,
    422: ValidationError,
}


def error_class(status_code: int) -> type[RunplaneAPIError]:
    """Pick the exception class for an HTTP error status."""
    if status_code >= 500:
        return ServerError
    return _ERRORS_BY_STATUS.get(status_code, RunplaneAPIError)


def error_from_response(response: httpx.Response) -> RunplaneAPIError:
    """Decode an error response (read already) into its typed exception."""
    status = response.status_code
    try:
        body = ErrorBody.model_validate_json(response.content)
    except SchemaError:
        text = response.text.strip()[:300]
        return error_class(status)(status, text or response.reason_phrase or f"HTTP {status}")
    return error_class(status)(status, body.message, body.details)


def connection_error(exc: httpx.TransportError, base_url: str) -> RunplaneConnectionError:
    """Describe a transport failure in a sentence that names the server."""
    if isinstance(exc, httpx.TimeoutException):
        message = f"the server at {base_url} did not answer in time ({type(exc).__name__})"
    else:
        message = f"the server is not reachable at {base_url} ({exc or type(exc).__name__})"
    return RunplaneConnectionError(message, base_url)
