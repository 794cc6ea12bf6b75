"""When the client sends a request again: which failures, how many times, after how long.

A request is sent again only when doing so cannot do a thing twice: its method is
idempotent (GET, HEAD, PUT, DELETE, OPTIONS), or it is a POST with an
``Idempotency-Key`` (the server answers a repeat with what the first one made), or the
connection was never opened (nothing was sent). It is sent again after a 429, 502, 503
or 504, or a connection that failed before an answer came. Pauses grow exponentially,
with jitter so that many clients turned away together do not come back together; a
``Retry-After`` the server sent is waited for (up to a cap). Nothing here does I/O.
"""

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

DEFAULT_MAX_RETRIES = 3
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# 429 and 503 say "later" (the server's 503 also says nothing was changed); 502 and
# 504 are what a proxy in front of a restarting server answers.
RETRIED_STATUSES = frozenset({429, 502, 503, 504})
# Failures that happen before a byte of the request has left: safe for any method.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryNote:
    """A retry about to happen, as ``on_retry`` is told of it."""

    retry: int  # 1 for the first retry
    delay: float  # seconds before it
    reason: str  # "503", "429", "ConnectError", "ReadTimeout" …
    method: str
    url: str


OnRetry = Callable[[RetryNote], None]


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, and for how long in all, a failed request is sent again."""

    max_retries: int = DEFAULT_MAX_RETRIES
    backoff: float = 0.5  # the first pause's upper bound; it doubles after each failure
    max_backoff: float = 8.0
    max_retry_after: float = 30.0  # a longer Retry-After is not waited for in full
    total: float = 60.0  # no retry starts later than this after the first attempt

    def start(self, request: httpx.Request, on_retry: OnRetry | None = None) -> "Attempts":
        """Begin counting the attempts at ``request``."""
        return Attempts(self, request, on_retry)


def policy_from(max_retries: int | None) -> RetryPolicy:
    """The policy of a client: ``max_retries`` if given, else ``RUNPLANE_MAX_RETRIES``, else 3."""
    if max_retries is None:
        max_retries = int(os.environ.get("RUNPLANE_MAX_RETRIES") or DEFAULT_MAX_RETRIES)
    if max_retries < 0:
        raise ValueError("max_retries must be 0 (no retries) or more")
    return RetryPolicy(max_retries=max_retries)


def replayable(request: httpx.Request) -> bool:
    """Tell whether sending ``request`` twice does what sending it once does."""
    method = request.method.upper()
    return method in IDEMPOTENT_METHODS or (
        method == "POST" and "Idempotency-Key" in request.headers
    )


def retry_after(response: httpx.Response) -> float | None:
    """The seconds a ``Retry-After`` header asks for (delay or HTTP date), if it is readable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Attempts:
    """The attempts at one request: whether and when to try again after each failure."""

    def __init__(self, policy: RetryPolicy, request: httpx.Request, on_retry: OnRetry | None):
        self._policy = policy
        self._request = request
        self._on_retry = on_retry
        self._replayable = replayable(request)
        self._started = time.monotonic()
        self.retries = 0

    def after_error(self, exc: httpx.TransportError) -> float | None:
        """The pause before trying again after ``exc``, or ``None`` to give up."""
        if not (self._replayable or isinstance(exc, NOT_SENT)):
            return None  # the server may have acted on it before the connection broke
        return self._next(None, type(exc).__name__)

    def after_response(self, response: httpx.Response) -> float | None:
        """The pause before trying again after ``response``, or ``None`` to keep it."""
        if response.status_code not in RETRIED_STATUSES or not self._replayable:
            return None
        return self._next(retry_after(response), str(response.status_code))

    def _next(self, asked: float | None, reason: str) -> float | None:
        policy = self._policy
        if self.retries >= policy.max_retries:
            return None
        step = min(policy.max_backoff, policy.backoff * 2**self.retries)
        if asked is None:
            delay = random.uniform(step / 2, step)
        else:
            # What the server asked, and a little more, different for every client.
            waited = min(asked, policy.max_retry_after)
            delay = waited + random.uniform(0, min(1.0, waited / 4 + step / 2))
        if time.monotonic() - self._started + delay > policy.total:
            return None
        self.retries += 1
        if self._on_retry is not None:
            request = self._request
            self._on_retry(RetryNote(self.retries, delay, reason, request.method, str(request.url)))
        return delay
