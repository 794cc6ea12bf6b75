"""Model calls tried again, by runplane rather than the vendors' SDKs (their ``max_retries=0``).

A rate limit (429), a server error (5xx), a timeout, a lost connection or a stream cut
short is tried again after an exponential backoff with jitter, or after the server's
``Retry-After`` (seconds or an HTTP date) when it says, both capped; a bounded number of
attempts in all. A bad request (400) is not tried again, and a refused key (401/403) is
a ``provider_auth`` error at once: a wrong key must not become a storm of requests.
"""

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from runplane.domain.errors import RunError
from runplane.providers.base import OnDelta

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a model call is tried."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(max(0.0, retry_after), self.max_delay)
        backoff = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return backoff * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret


class IncompleteAnswer(Exception):
    """A streamed answer that ended before the model said it was done."""


def retry_after_of(exc: BaseException, now: float | None = None) -> float | None:
    """The seconds a refusal asks to wait (``Retry-After`` / ``retry-after-ms``), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class DeltaOnce:
    """``on_delta`` across attempts: text a cut attempt already sent is not sent again.

    A retried stream starts from the beginning; its first characters, up to what the
    earlier attempt had sent, are dropped (a deterministic server repeats them).
    """

    def __init__(self, on_delta: OnDelta | None) -> None:
        self._on_delta = on_delta
        self._sent = 0
        self._seen = 0

    def attempt(self) -> OnDelta | None:
        """The callback for a new attempt."""
        self._seen = 0
        return None if self._on_delta is None else self._forward

    async def _forward(self, text: str) -> None:
        start, self._seen = self._seen, self._seen + len(text)
        if self._seen <= self._sent or self._on_delta is None:
            return
        piece = text[max(0, self._sent - start) :]
        self._sent = self._seen
        await self._on_delta(piece)


async def with_retries(
    provider: str,
    policy: RetryPolicy,
    attempt: Callable[[], Awaitable[T]],
    to_error: Callable[[Exception], RunError],
    failures: tuple[type[BaseException], ...],
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> T:
    """``attempt()`` until it answers, a failure is final, or the attempts run out.

    ``failures`` are the exceptions an attempt may end with; ``to_error`` turns one into
    the run error (its ``retryable`` says whether another attempt may pass).
    """
    number = 0
    while True:
        number += 1
        try:
            return await attempt()
        except failures as exc:
            assert isinstance(exc, Exception)
            error = to_error(exc)
            if not error.retryable:
                raise error from exc
            if number >= policy.attempts:
                raise RunError(
                    f"{error.message} (gave up after {number} attempts)",
                    code=error.code,
                    retryable=False,
                ) from exc
            await sleep(policy.delay(number, retry_after_of(exc)))


def incomplete_error(provider: str) -> RunError:
    """The run error for a stream that stopped before the answer was complete."""
    return RunError(
        f"model provider {provider}: the answer stream ended before the answer was complete",
        code="model_error",
        retryable=True,
    )
