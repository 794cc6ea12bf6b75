"""Several hosts on one machine, for tests: network namespaces on a bridge of their own.

    reason = netns.unavailable()          # None, or why hosts cannot be made here
    with netns.Network() as net:          # a bridge, 10.77.<k>.1/24 (k free, claimed)
        db = net.reach(pg_url)            # the URL through a forwarder on the bridge
        api = net.add_host("api1")        # a namespace with 10.77.<k>.<n> on the bridge
        server = net.server(api, db, cwd=tmp, project=toml, worker=False).start()
        net.cut(api)                      # its link goes down: packets are dropped
        net.reconnect(api)                # and up again
    # servers stopped, namespaces, links, bridge and forwarders gone (even on failure)

Each host is a network namespace (``ip netns``) joined to the bridge by a veth pair; the
root namespace has the bridge's first address. Services of the machine that listen on
loopback only (Postgres) are reached through a TCP forwarder that this process runs on
the bridge address (``forward``/``reach``), so their configuration is left alone. The
subnet's number is claimed for the life of the network (an abstract socket, freed by the
kernel if the process dies), and links left behind by a process that died holding it are
removed by the next one to claim it. Making hosts needs root (CAP_NET_ADMIN and
CAP_SYS_ADMIN) and ``ip``: ``unavailable()`` says why not, for ``pytest.skip``.
"""

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy.engine import make_url

from runplane.testing.server import LiveServer

SUBNET = "10.77"
# CAP_NET_ADMIN (links, addresses) and CAP_SYS_ADMIN (``ip netns`` mounts its namespaces).
_CAPS = {12: "CAP_NET_ADMIN", 21: "CAP_SYS_ADMIN"}
# The port a host's server listens on: every namespace has ports of its own.
SERVER_PORT = 8000


def unavailable() -> str | None:
    """Why hosts cannot be made on this machine, or None if they can."""
    ip = shutil.which("ip")
    if ip is None:
        return "the `ip` command (iproute2) is not installed"
    missing = [name for bit, name in _CAPS.items() if not _effective_capability(bit)]
    if missing:
        return f"this process lacks {' and '.join(missing)} (run the test as root)"
    probe = f"rp-probe-{os.getpid()}-{uuid.uuid4().hex[:4]}"
    made = subprocess.run([ip, "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip() or made.returncode}"
    subprocess.run([ip, "netns", "del", probe], capture_output=True)
    return None


def _effective_capability(bit: int) -> bool:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> bit & 1)
    except OSError:
        pass
    return os.geteuid() == 0


@dataclass
class Host:
    """One namespace on the bridge: its name, its address, and its end of the link."""

    name: str
    namespace: str
    address: str
    link: str  # the root namespace's end of the veth pair, on the bridge

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside the host."""
        return ["ip", "netns", "exec", self.namespace, *argv]


class Network:
    """A bridge with hosts on it; a context manager that removes everything it made."""

    def __init__(self) -> None:
        self.hosts: list[Host] = []
        self.servers: list[LiveServer] = []
        self.number, self._claim = _claim_subnet()
        self.prefix = f"{SUBNET}.{self.number}"
        self.bridge = f"rpbr{self.number}"
        self.address = f"{self.prefix}.1"
        self._forwarders: list[_Forwarder] = []
        self._sweep()

    # -- building ----------------------------------------------------------------------

    def __enter__(self) -> "Network":
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.address}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        except BaseException:
            self.teardown()
            raise
        return self

    def add_host(self, name: str) -> Host:
        """A new namespace on the bridge, with the next free address."""
        n = len(self.hosts) + 1
        host = Host(
            name=name,
            namespace=f"rp{self.number}-{name}",
            address=f"{self.prefix}.{10 + n}",
            link=f"rpv{self.number}x{n}",
        )
        peer = f"rpp{self.number}x{n}"
        self.hosts.append(host)  # removed at teardown even if made only in part
        _ip("netns", "add", host.namespace)
        _ip("link", "add", host.link, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", host.namespace)
        _ip("link", "set", host.link, "master", self.bridge)
        _ip("link", "set", host.link, "up")
        inside = ["-n", host.namespace]
        _ip(*inside, "link", "set", "lo", "up")
        _ip(*inside, "link", "set", peer, "name", "eth0")
        _ip(*inside, "addr", "add", f"{host.address}/24", "dev", "eth0")
        _ip(*inside, "link", "set", "eth0", "up")
        return host

    def forward(self, target: tuple[str, int], port: int | None = None) -> tuple[str, int]:
        """Forward TCP from the bridge address to ``target`` (in the root namespace).

        The hosts reach a service that listens on loopback only through it; returns the
        address and port they connect to.
        """
        forwarder = _Forwarder(self.address, port or target[1], target)
        self._forwarders.append(forwarder)
        forwarder.start()
        return self.address, forwarder.port

    def reach(self, database_url: str) -> str:
        """``database_url`` as the hosts reach it: through a forwarder on the bridge."""
        url = make_url(database_url)
        address, port = self.forward((url.host or "127.0.0.1", url.port or 5432))
        return url.set(host=address, port=port).render_as_string(hide_password=False)

    def server(self, host: Host, database_url: str, **kwargs: Any) -> LiveServer:
        """A runplane server (not started) on ``host``, listening on its address.

        ``kwargs`` go to ``LiveServer`` (``cwd``, ``project``, ``worker``, ``api``, ``env``,
        ``port``: 8000 unless given); it is stopped at teardown.
        """
        kwargs.setdefault("port", SERVER_PORT)
        server = LiveServer(database_url, host=host.address, prefix=host.command(), **kwargs)
        self.servers.append(server)
        return server

    # -- faults ------------------------------------------------------------------------

    def cut(self, host: Host) -> None:
        """Take the host's link down: its packets, both ways, are dropped from now on."""
        _ip("link", "set", host.link, "down")

    def reconnect(self, host: Host) -> None:
        """Bring the host's link up again."""
        _ip("link", "set", host.link, "up")

    # -- removing ----------------------------------------------------------------------

    def teardown(self) -> None:
        """Stop the servers and forwarders; remove the hosts, their links and the bridge."""
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.stop()
        for forwarder in self._forwarders:
            forwarder.stop()
        self._sweep()
        self._claim.close()

    def _sweep(self) -> None:
        """Remove every namespace and link of this subnet's number (ours, or left behind)."""
        mine = f"rp{self.number}-"
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        for line in names.splitlines():
            namespace = line.split()[0] if line.split() else ""
            if namespace.startswith(mine):
                _ip("netns", "del", namespace, check=False)
        links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True)
        for line in links.stdout.splitlines():
            name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
            if name.startswith((f"rpv{self.number}x", f"rpp{self.number}x")):
                _ip("link", "del", name, check=False)
        _ip("link", "del", self.bridge, check=False)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.teardown()


def _ip(*args: str, check: bool = True) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _claim_subnet() -> tuple[int, socket.socket]:
    """A subnet number (10.77.<n>.0/24) no live process holds, and the claim on it."""
    for n in range(1, 255):
        claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            claim.bind(f"\0runplane-netns-{n}")
        except OSError:
            claim.close()
            continue
        return n, claim
    raise RuntimeError("every 10.77.<n>.0/24 subnet is claimed by a live process")


class _Forwarder:
    """A TCP forwarder on its own thread and event loop: ``listen`` -> ``target``."""

    def __init__(self, address: str, port: int, target: tuple[str, int]) -> None:
        self.address = address
        self.port = port
        self.target = target
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="netns-forwarder", daemon=True)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError(f"cannot forward {self.address}:{self.port}") from self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._connect, self.address, self.port)
            )
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        for task in (_pipe(reader, up_writer), _pipe(up_reader, writer)):
            pipe = asyncio.ensure_future(task)
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for pipe in list(self._pipes):
                pipe.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until it ends; then close the other side, which ends the other."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.CancelledError):
        pass
    finally:
        writer.close()
