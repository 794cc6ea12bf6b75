"""A TCP proxy that misbehaves on demand, for tests of what a database fault does to runs.

Put it between runplane and Postgres (runplane's URL names the proxy's port) and switch
its mode from the test while the server works:

- ``passing()``: bytes flow both ways (the default);
- ``refusing()``: every new connection is reset at once, as a database that is down or
  full; connections already open keep working;
- ``cut()``: every open connection is reset (RST) in the middle of whatever it was
  doing, transactions included; new ones are let through;
- ``stalling()``: no byte moves either way (new connections are held too) until
  ``passing()``, as a network that hangs.

Each connection is two threads pumping bytes, one per direction.
"""

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from types import TracebackType

# SO_LINGER on, with a zero timeout: close() sends RST rather than FIN.
_RESET = struct.pack("ii", 1, 0)


class _Link:
    """One client connection and its upstream twin."""

    def __init__(self, proxy: "FaultProxy", client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self._lock = threading.Lock()
        self._closed = False

    def start(self) -> None:
        for src, dst in ((self.client, self.upstream), (self.upstream, self.client)):
            threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                self.proxy._flowing.wait()  # a stall holds what was read
                if self._closed:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self.close(reset=False)

    def close(self, *, reset: bool) -> None:
        """Close both ends: with RST if ``reset``, else as the other side did."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                if reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                # Wakes the pump blocked in recv() on this socket, sending nothing.
                sock.shutdown(socket.SHUT_RD)
            with contextlib.suppress(OSError):
                sock.close()
        self.proxy._forget(self)


class FaultProxy:
    """A loopback TCP proxy to ``upstream_port``, whose faults the test switches."""

    def __init__(self, upstream_port: int, *, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._links: set[_Link] = set()
        self._lock = threading.Lock()
        self._flowing = threading.Event()
        self._flowing.set()
        self._refusing = False
        self._stopped = False
        self.accepted = 0
        self.refused = 0
        self.reset = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def url_for(self, database_url: str) -> str:
        """``database_url`` (on any loopback port) routed through this proxy."""
        head, _, rest = database_url.partition("@")
        _, _, path = rest.partition("/")
        return f"{head}@127.0.0.1:{self.port}/{path}"

    # -- modes --------------------------------------------------------------------------

    def passing(self) -> None:
        """Let bytes and new connections through again."""
        self._refusing = False
        self._flowing.set()

    def refusing(self) -> None:
        """Reset every new connection at once; open ones carry on."""
        self._refusing = True

    def stalling(self) -> None:
        """Hold every byte, both ways, on every connection, until ``passing()``."""
        self._flowing.clear()

    def cut(self) -> int:
        """Reset every open connection now; return how many there were."""
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close(reset=True)
        self.reset += len(links)
        return len(links)

    @contextlib.contextmanager
    def fault(self, mode: str) -> Iterator[None]:
        """``refusing`` or ``stalling`` for the block's duration."""
        getattr(self, mode)()
        try:
            yield
        finally:
            self.passing()

    @property
    def open_connections(self) -> int:
        """Connections open through the proxy now."""
        with self._lock:
            return len(self._links)

    # -- plumbing -----------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._refusing:
                self.refused += 1
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                client.close()
                continue
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        self._flowing.wait()  # a stall holds new connections too
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            # Upstream is down: the client sees what it would have, a refused connection.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
            client.close()
            return
        upstream.settimeout(None)
        link = _Link(self, client, upstream)
        with self._lock:
            self._links.add(link)
            self.accepted += 1
        link.start()

    def _forget(self, link: _Link) -> None:
        with self._lock:
            self._links.discard(link)

    def start(self) -> "FaultProxy":
        """Start accepting connections."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop accepting and reset every connection."""
        self._stopped = True
        self.passing()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        with contextlib.suppress(OSError):
            self._listener.close()
        self.cut()

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
