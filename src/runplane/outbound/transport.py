"""The transport every outgoing call goes through: resolve, check, connect to what was checked.

Each request's host is resolved once; every address is checked against the policy; the
connection then goes to the checked address itself (the URL's host replaced by it), so a
resolver that answers differently a moment later (DNS rebinding) cannot send it elsewhere.
The ``Host`` header keeps the name, and for https the TLS server name (SNI) and the
certificate check keep it too (httpcore's ``sni_hostname`` request extension).

Written once for any httpx-like library: ``httpx`` for our own calls, and whatever the
model vendors' SDKs are built on (recent ones use ``httpx2``, whose objects do not mix).
"""

import asyncio
import functools
import socket
import sys
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

from runplane.outbound.policy import IPAddress, Policy, Refused, parse_ip

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (the system resolver, off the event loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        ip = parse_ip(str(sockaddr[0]))
        if ip is not None and ip not in found:
            found.append(ip)
    return found


def http_library(client_class: type) -> ModuleType:
    """The httpx-like module a client class is built on (``httpx`` or ``httpx2``)."""
    base = next(c for c in client_class.__mro__ if c.__name__ == "AsyncClient")
    return sys.modules[base.__module__.split(".")[0]]


def guarded_transport(
    policy: Policy,
    library: ModuleType,
    *,
    resolver: Resolver = resolve,
    inner: Callable[[], Any] | None = None,
) -> Any:
    """A transport of ``library`` that refuses what ``policy`` refuses and pins the address.

    ``inner`` makes the transport that sends a pinned request (default: the library's
    own ``AsyncHTTPTransport``); ``resolver`` is how names are resolved (tests inject one).
    """
    return _transport_class(library)(policy, resolver, inner or library.AsyncHTTPTransport)


@functools.cache
def _transport_class(library: ModuleType) -> type:
    class GuardedTransport(library.AsyncBaseTransport):  # type: ignore[name-defined,misc]
        """Resolves, checks and pins each request's address before sending it."""

        def __init__(self, policy: Policy, resolver: Resolver, inner: Callable[[], Any]) -> None:
            self.policy = policy
            self.resolver = resolver
            self.make_inner = inner
            # One pool per host name: a connection made for one name (its TLS server
            # name) is never reused for another name that shares the address.
            self.pools: dict[str, Any] = {}

        async def handle_async_request(self, request: Any) -> Any:
            url = request.url
            host, port = url.host, url.port or (443 if url.scheme == "https" else 80)
            self.policy.check_url(url.scheme, host, port)
            literal = parse_ip(host)
            if literal is not None:
                addresses = [literal]
            else:
                try:
                    addresses = await self.resolver(host, port)
                except OSError as exc:
                    raise library.ConnectError(
                        f"cannot resolve the host: {exc}", request=request
                    ) from exc
                if not addresses:
                    raise library.ConnectError("the host has no address", request=request)
            self.policy.check_addresses(host, port, addresses)
            extensions = dict(request.extensions)
            if url.scheme == "https" and literal is None:
                extensions["sni_hostname"] = host
            pinned = library.Request(
                request.method,
                url.copy_with(host=str(addresses[0])),
                headers=request.headers,  # Host: still the name
                stream=request.stream,
                extensions=extensions,
            )
            if host not in self.pools:
                self.pools[host] = self.make_inner()
            return await self.pools[host].handle_async_request(pinned)

        async def aclose(self) -> None:
            pools, self.pools = list(self.pools.values()), {}
            for pool in pools:
                await pool.aclose()

    return GuardedTransport


def refusal_of(exc: BaseException) -> Refused | None:
    """The policy refusal behind an exception (SDKs wrap what the transport raises), if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, Refused):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
