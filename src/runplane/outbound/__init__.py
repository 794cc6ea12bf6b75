"""Every outgoing HTTP call of the server: fenced (``policy``), pinned (``transport``), signed.

Webhooks, model providers and tools reach the network only through a client made here:
http(s) only, internal addresses refused unless the settings allow them, the connection
made to the address that was checked, redirects not followed, environment proxies not
used, and a timeout on everything.
"""

from typing import Any

import httpx

from runplane.outbound.policy import AllowEntry, Policy, Refused, classify
from runplane.outbound.transport import (
    Resolver,
    guarded_transport,
    http_library,
    refusal_of,
    resolve,
)

DEFAULT_TIMEOUT = 10.0
OutboundClient = httpx.AsyncClient

__all__ = [
    "AllowEntry",
    "OutboundClient",
    "OutboundError",
    "Policy",
    "Refused",
    "Resolver",
    "async_client",
    "check_url",
    "post",
    "post_answer",
    "classify",
    "refusal_of",
    "resolve",
    "sdk_http_client",
]


def async_client(
    policy: Policy, *, timeout: float = DEFAULT_TIMEOUT, resolver: Resolver = resolve
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose every request is fenced by ``policy``."""
    return httpx.AsyncClient(
        transport=guarded_transport(policy, httpx, resolver=resolver),
        follow_redirects=False,
        trust_env=False,  # an environment proxy would be a way around the fence
        timeout=timeout,
    )


def sdk_http_client(client_class: type, policy: Policy, *, timeout: float) -> Any:
    """An instance of a vendor SDK's HTTP client class (``openai.DefaultAsyncHttpxClient``),
    fenced by ``policy`` and built on the SDK's own HTTP library."""
    library = http_library(client_class)
    return client_class(
        transport=guarded_transport(policy, library),
        follow_redirects=False,
        trust_env=False,
        timeout=timeout,
    )


class OutboundError(Exception):
    """A call that failed on the way: no connection, a timeout, a broken answer."""


async def post(client: httpx.AsyncClient, url: str, content: bytes, headers: dict[str, str]) -> int:
    """POST ``content`` and return the status; ``Refused`` or ``OutboundError`` if it fails."""
    try:
        response = await client.post(url, content=content, headers=headers)
    except httpx.HTTPError as exc:
        raise OutboundError(f"{type(exc).__name__}: {exc}") from exc
    return response.status_code


async def post_answer(
    client: httpx.AsyncClient, url: str, content: bytes, headers: dict[str, str], excerpt: int
) -> tuple[int, str]:
    """POST ``content``; return the status and the answer's first ``excerpt`` characters."""
    try:
        response = await client.post(url, content=content, headers=headers)
    except httpx.HTTPError as exc:
        raise OutboundError(f"{type(exc).__name__}: {exc}") from exc
    return response.status_code, response.text[:excerpt]


def check_url(policy: Policy, url: str) -> None:
    """Refuse a URL now if its scheme or literal host alone rule it out (``Refused``)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise Refused(f"not a URL: {exc}") from None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    policy.check_url(parsed.scheme, parsed.host, port)
