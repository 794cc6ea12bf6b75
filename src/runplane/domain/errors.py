"""The error tree of runplane; the API maps each class to one HTTP status.

    RunplaneError (500, internal)
    ├── Invalid (422, invalid)             a request that breaks a rule
    │   └── BadRequest (400, bad_request)  a request that cannot be read at all
    ├── Unauthorized (401, unauthorized)
    ├── NotFound (404, not_found)
    ├── Conflict (409, conflict)           the resource is not in a state that allows it
    ├── Gone (410, gone)                   it existed, but no longer (an expired token)
    └── PayloadTooLarge (413, payload_too_large)

Every error carries ``details``: a list of ``{"name": field, "value": …}`` naming what
was wrong, the shape of the public error body.
"""

from typing import TypedDict


class ErrorDetail(TypedDict):
    """One thing a request got wrong: the field's name and the value it had."""

    name: str
    value: object


class RunplaneError(Exception):
    """Base of every error runplane raises on purpose."""

    status = 500
    code = "internal"

    def __init__(self, message: str, details: list[ErrorDetail] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class Invalid(RunplaneError):
    """The request breaks a rule: a schema, a range, a reference."""

    status = 422
    code = "invalid"

    @classmethod
    def field(cls, name: str, message: str, value: object = None) -> "Invalid":
        """Build the error for one named field."""
        return cls(message, [{"name": name, "value": value}])


class BadRequest(Invalid):
    """The request cannot be read (malformed JSON, a broken token)."""

    status = 400
    code = "bad_request"


class Unauthorized(RunplaneError):
    """No API key, or one that is unknown or revoked."""

    status = 401
    code = "unauthorized"


class Forbidden(RunplaneError):
    """The key is valid but its role (or binding) does not allow this."""

    status = 403
    code = "forbidden"


class NotFound(RunplaneError):
    """The resource does not exist for this tenant."""

    status = 404
    code = "not_found"


class Conflict(RunplaneError):
    """The resource's state does not allow the request."""

    status = 409
    code = "conflict"


class Gone(RunplaneError):
    """The resource existed but is no longer usable (an expired approval link)."""

    status = 410
    code = "gone"


class PayloadTooLarge(RunplaneError):
    """The request body is over the configured limit."""

    status = 413
    code = "payload_too_large"


class TooManyRequests(RunplaneError):
    """A quota or rate limit was hit; ``retry_after`` says when to try again."""

    status = 429
    code = "too_many_requests"

    def __init__(
        self, message: str, retry_after: float = 1.0, details: list[ErrorDetail] | None = None
    ) -> None:
        super().__init__(message, details)
        self.retry_after = retry_after


class ServiceUnavailable(RunplaneError):
    """The database cannot be had right now; nothing was changed; try again later."""

    status = 503
    code = "service_unavailable"

    def __init__(self, message: str, retry_after: float = 2.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RunError(Exception):
    """Raised by agent code to fail its run with a stable ``code``.

    ``retryable`` tells a caller whether running it again may succeed.
    """

    def __init__(self, message: str, code: str = "agent_error", retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable


class ToolError(RunError):
    """A tool call that did not happen or did not succeed; the agent may catch it.

    Codes: ``unknown_tool``, ``tool_not_allowed``, ``invalid_arguments``,
    ``tool_rejected`` (a person said no), ``no_user`` (an act-as-user tool in a run
    without ``user_id``), ``tool_failed`` (the tool raised).
    """

    def __init__(self, message: str, code: str = "tool_failed", retryable: bool = False) -> None:
        super().__init__(message, code=code, retryable=retryable)


class RunCanceled(BaseException):  # noqa: N818 - a signal, not an error
    """Delivered into agent code when its run is canceled.

    A ``BaseException`` so that an agent's ``except Exception`` cannot swallow it.
    """
