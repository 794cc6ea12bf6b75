"""A real runplane server in a child process, for tests that need a socket or a crash."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

import httpx

# A server started by a test exits when the test process is gone (killed by a timeout,
# interrupted), rather than living on and loading the machine.
LAUNCH = (
    "import os, threading, time\n"
    "def _exit_when_orphaned(parent=os.getppid()):\n"
    "    while os.getppid() == parent:\n"
    "        time.sleep(1)\n"
    "    os._exit(1)\n"
    "threading.Thread(target=_exit_when_orphaned, daemon=True).start()\n"
    "from runplane.server import serve, run_worker; from runplane.settings import Settings; "
)


def claim_port() -> tuple[int, socket.socket]:
    """A free TCP port on the loopback interface, and a claim on it to hold until it is bound.

    A port found free may be picked again by another process (tests run in parallel)
    before our server binds it; ports claimed elsewhere are skipped here.
    """
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        claim = _claim(port)
        if claim is not None:
            return port, claim
    raise RuntimeError("no free port that no other process has claimed")


def _claim(port: int) -> socket.socket | None:
    """An abstract Unix socket named after the port, or None if another process holds it.

    One process at a time can bind the name, and the kernel frees it when the socket is
    closed or its process dies: no file is left behind.
    """
    claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        claim.bind(f"\0runplane-port-{port}")
    except OSError:
        claim.close()
        return None
    return claim


def free_port() -> int:
    """A free TCP port on the loopback interface, not claimed by a server starting elsewhere."""
    port, claim = claim_port()
    claim.close()
    return port


class LiveServer:
    """``runplane serve`` (or ``worker``) as a child process, started and stopped by tests.

    ``worker=False`` is an API-only process (``--role api``), ``api=False`` a worker
    (``--role worker``); ``host`` is the address it listens on, and ``prefix`` a command
    the interpreter is started under (``ip netns exec NAME`` puts it on another host).
    """

    def __init__(
        self,
        database_url: str,
        *,
        cwd: Path,
        project: Path | None = None,
        worker: bool = True,
        api: bool = True,
        env: dict[str, str] | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
        prefix: Sequence[str] = (),
    ) -> None:
        self.database_url = database_url
        self.cwd = Path(cwd)
        self.project = project
        self.worker = worker
        self.api = api
        self.extra_env = env or {}
        # A port of our choosing is claimed from here until stop(), across kill() and
        # restarts: a crashed server comes back on the same port.
        self._claimed = port is None
        self._claim: socket.socket | None = None
        if port is None:
            port, self._claim = claim_port()
        self.port = port
        self.host = host
        self.prefix = list(prefix)
        self.url = f"http://{host}:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.cwd / f"server-{self.port}.log"

    @property
    def role(self) -> str:
        """The process's ``RUNPLANE_ROLE``."""
        if not self.api:
            return "worker"
        return "all" if self.worker else "api"

    def env(self) -> dict[str, str]:
        """The child's environment."""
        env = dict(os.environ)
        env.update(
            {
                "RUNPLANE_DATABASE_URL": self.database_url,
                "RUNPLANE_HOST": self.host,
                "RUNPLANE_PORT": str(self.port),
                "RUNPLANE_ROLE": self.role,
                "RUNPLANE_HEARTBEAT_SECONDS": "0.5",
                "RUNPLANE_EXECUTOR_DEAD_AFTER": "3",
                # Test servers run side by side on one Postgres (100 connections by default).
                "RUNPLANE_DB_CONNECTIONS": "8",
                # Well below stop()'s 10 s wait for SIGTERM to end the process: a test that stops
                # a server mid-run waits at most this long for it (tests of the drain set more).
                "RUNPLANE_DRAIN_SECONDS": "2",
            }
        )
        if self.project is not None:
            env["RUNPLANE_PROJECT"] = str(self.project)
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 90.0) -> "LiveServer":
        """Start the process and wait until it answers (an API) or has launched (a worker).

        The wait is long because a loaded machine imports slowly; it ends as soon as it answers.
        """
        self.cwd.mkdir(parents=True, exist_ok=True)
        if self._claimed and self._claim is None:  # started again after stop()
            self._claim = _claim(self.port)
        entry = "serve(Settings())" if self.api else "run_worker(Settings())"
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            [*self.prefix, sys.executable, "-c", LAUNCH + entry],
            cwd=self.cwd,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if self.api:
            self._wait_healthy(timeout)
        return self

    def _wait_healthy(self, timeout: float) -> None:
        assert self.process is not None
        wait_healthy(self.process, self.url, timeout, self.log_tail)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the child's output, for failure messages."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: the crash that durability must survive."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers; the port is given up."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._claim is not None:
            self._claim.close()
            self._claim = None

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def wait_healthy(
    process: "subprocess.Popen[bytes]", url: str, timeout: float, tail: Callable[[], str]
) -> None:
    """Return once ``url`` answers ``/healthz``; raise with ``tail()`` if the process exits
    or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{tail()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server did not answer in {timeout} s:\n{tail()}")


def create_key(
    database_url: str, tenant: str = "default", role: str = "admin", user_id: str | None = None
) -> str:
    """A new API key, made in a child process (it runs its own event loop)."""
    code = (
        "from runplane.admin import create_api_key; from runplane.settings import Settings; "
        f"print(create_api_key(Settings(database_url={database_url!r}), tenant={tenant!r}, "
        f"role={role!r}, user_id={user_id!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return out.stdout.strip().splitlines()[-1]
