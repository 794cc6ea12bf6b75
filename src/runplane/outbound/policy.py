"""Where outgoing calls may go: http(s) only, and never to an internal address unless allowed.

A URL given by a tenant (a run's webhook) could otherwise make the server reach what
only the server can reach: its own admin ports, the cloud's metadata service (and its
credentials), the private network. Every resolved address is classified; a call is
refused when any of them is not a public one, unless the settings allow it.
"""

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

from runplane.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEMES = frozenset({"http", "https"})
# The instance-metadata services of the clouds (AWS, GCP, Azure, OCI, ECS, Alibaba):
# refused even when private networks are allowed, unless the allow-list names them.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.169.253",
        "fd00:ec2::254",
        "fd00:ec2::23",
        "100.100.100.200",
    )
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# RFC 6761: these names are loopback by definition; no need to ask DNS.
LOOPBACK_NAMES = ("localhost", "localhost.", "localhost.localdomain")


class Refused(Exception):
    """An outgoing call that the policy does not allow (never retried)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def classify(ip: IPAddress) -> str | None:
    """What kind of internal address ``ip`` is (``"loopback"``, ``"private"``…); None if public."""
    inner = embedded_ipv4(ip)
    if inner is not None and isinstance(ip, ipaddress.IPv6Address):
        kind = classify(inner)
        # A mapped or NAT64 address is its IPv4 address; 6to4 and Teredo are looked at twice.
        if kind is not None or ip.ipv4_mapped is not None or ip in NAT64:
            return kind
    if ip in METADATA:
        return "cloud metadata"
    for kind, test in (
        ("unspecified", ip.is_unspecified),
        ("multicast", ip.is_multicast),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved or not ip.is_global),
    ):
        if test:
            return kind
    return None


# What RUNPLANE_ALLOW_PRIVATE_NETWORKS lets through; the rest needs the allow-list.
PRIVATE_KINDS = frozenset({"loopback", "link-local", "private", "reserved"})


@dataclass(frozen=True)
class AllowEntry:
    """One entry of the allow-list: a network (CIDR or address), or a host with an optional port."""

    network: IPNetwork | None = None
    host: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> "AllowEntry":
        """Read ``10.0.0.0/8``, ``::1``, ``ollama.internal`` or ``ollama.internal:11434``."""
        text = text.strip()
        try:
            return cls(network=ipaddress.ip_network(text.strip("[]"), strict=False))
        except ValueError:
            pass
        host, sep, port = text.rpartition(":")
        if sep and port.isdigit() and host:
            return cls(host=host.strip("[]").lower(), port=int(port))
        return cls(host=text.lower())


@dataclass(frozen=True)
class Policy:
    """The rules every outgoing call is checked against (safe by default: public only)."""

    allow_private: bool = False
    allow: tuple[AllowEntry, ...] = field(default_factory=tuple)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Policy":
        """The policy the settings ask for."""
        entries = tuple(AllowEntry.parse(e) for e in settings.outbound_allow if e.strip())
        return cls(allow_private=settings.allow_private_networks, allow=entries)

    def host_allowed(self, host: str, port: int) -> bool:
        """Tell whether the allow-list names this host (and port) outright."""
        host = host.lower()
        return any(e.host == host and e.port in (None, port) for e in self.allow)

    def check_url(self, scheme: str, host: str, port: int) -> None:
        """Refuse what can be decided without DNS: the scheme, a literal address, ``localhost``."""
        if scheme not in SCHEMES:
            raise Refused(f"only http and https URLs are allowed, not {scheme or 'none'!r}")
        if not host:
            raise Refused("the URL has no host")
        if self.host_allowed(host, port):
            return
        literal = parse_ip(host)
        if literal is not None:
            self.check_addresses(host, port, [literal])
        elif host.lower() in LOOPBACK_NAMES or host.lower().endswith(".localhost"):
            if not self.allow_private:
                raise Refused("the host is a loopback name")

    def check_addresses(self, host: str, port: int, addresses: Iterable[IPAddress]) -> None:
        """Refuse unless every address the host resolved to is allowed."""
        if self.host_allowed(host, port):
            return
        for ip in addresses:
            kind = classify(ip)
            if kind is None or any(e.network and ip in e.network for e in self.allow):
                continue
            if kind in PRIVATE_KINDS and self.allow_private:
                continue
            raise Refused(f"the host resolves to a {kind} address ({ip})")


def parse_ip(text: str) -> IPAddress | None:
    """The address ``text`` spells, or None; brackets and an IPv6 zone are dropped, and the
    old IPv4 spellings that resolvers still accept (``127.1``, ``0x7f000001``) are read too."""
    try:
        return ipaddress.ip_address(text.strip("[]").partition("%")[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except (OSError, ValueError):
        return None
