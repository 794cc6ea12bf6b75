"""testing/netns.py: hosts reach each other over the bridge, a cut host does not, and
nothing is left behind, even when the test fails inside the network."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from runplane.testing import netns

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only

# A TCP server that answers each connection with the host it runs on, then closes it.
SERVE = (
    "import socket, sys\n"
    "s = socket.create_server((sys.argv[1], 7000))\n"
    "while True:\n"
    "    c, _ = s.accept(); c.sendall(sys.argv[2].encode()); c.close()\n"
)
# Ask a server from inside a host; print what it said, or the error.
ASK = (
    "import socket, sys\n"
    "try:\n"
    "    with socket.create_connection((sys.argv[1], 7000), timeout=1) as c:\n"
    "        print(c.recv(100).decode())\n"
    "except OSError as e:\n"
    "    print('unreachable', type(e).__name__)\n"
)


@pytest.fixture(autouse=True)
def rights() -> None:
    reason = netns.unavailable()
    if reason is not None:
        pytest.skip(f"cannot make network namespaces here: {reason}")


def ours(number: int) -> list[str]:
    """The namespaces and links of a network's subnet number that exist now."""
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found = [n.split()[0] for n in names.splitlines() if n.startswith(f"rp{number}-")]
    for line in links.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name == f"rpbr{number}" or name.startswith((f"rpv{number}x", f"rpp{number}x")):
            found.append(name)
    return found


@pytest.fixture
def network() -> Iterator[netns.Network]:
    net = netns.Network()
    with net:
        yield net
    assert ours(net.number) == [], "teardown left these behind"


def ask(host: netns.Host | None, address: str) -> str:
    argv = [sys.executable, "-c", ASK, address]
    command = host.command(*argv) if host is not None else argv
    return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip()


def test_hosts_reach_each_other_and_the_root_namespace_until_one_is_cut(
    network: netns.Network,
) -> None:
    a, b = network.add_host("a"), network.add_host("b")
    server = subprocess.Popen(a.command(sys.executable, "-c", SERVE, a.address, "a"))
    try:
        deadline = time.monotonic() + 20
        while ask(None, a.address) != "a":
            assert time.monotonic() < deadline, "the server in host a never answered"
            time.sleep(0.1)
        assert ask(b, a.address) == "a"
        network.cut(a)
        assert ask(b, a.address).startswith("unreachable")
        assert ask(None, a.address).startswith("unreachable")
        network.reconnect(a)
        deadline = time.monotonic() + 20
        while ask(b, a.address) != "a":
            assert time.monotonic() < deadline, "host a did not come back"
            time.sleep(0.1)
    finally:
        server.kill()
        server.wait(10)


def test_a_service_on_loopback_is_reached_through_the_forwarder(network: netns.Network) -> None:
    host = network.add_host("client")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        address, forwarded = network.forward(("127.0.0.1", port), port=0)
        asker = subprocess.Popen(
            host.command(sys.executable, "-c", ASK.replace("7000", str(forwarded)), address),
            stdout=subprocess.PIPE,
            text=True,
        )
        listener.settimeout(20)
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"through the bridge")
        out, _ = asker.communicate(timeout=20)
    assert out.strip() == "through the bridge"


def test_a_failure_inside_the_network_still_removes_everything() -> None:
    with pytest.raises(RuntimeError, match="boom"), netns.Network() as net:
        net.add_host("doomed")
        number = net.number
        assert ours(number), "the host was made"
        raise RuntimeError("boom")
    assert ours(number) == []
