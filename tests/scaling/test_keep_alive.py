"""The server keeps an idle connection open longer than clients do, so it never closes one
under a client's next request (which would then break with no answer)."""

import socket
import time
from typing import Any
from urllib.parse import urlsplit

from runplane.server import KEEP_ALIVE_SECONDS

# httpx keeps an idle connection 5 s; a load balancer typically 60 s.
CLIENT_KEEP_ALIVE = 5.0


def _get_healthz(conn: socket.socket, host: str) -> bytes:
    conn.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        answer += chunk
    return answer


def test_a_connection_idle_past_a_clients_keep_alive_is_still_open(live_server: Any) -> None:
    assert KEEP_ALIVE_SECONDS > 60
    url = urlsplit(live_server.url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as conn:
        assert _get_healthz(conn, str(url.netloc)).startswith(b"HTTP/1.1 200")
        time.sleep(CLIENT_KEEP_ALIVE + 1)
        assert _get_healthz(conn, str(url.netloc)).startswith(b"HTTP/1.1 200")
