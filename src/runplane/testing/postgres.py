"""A private Postgres for tests that stop, restart or exhaust the database.

The shared test Postgres must never be restarted or reconfigured, so fault tests start
their own: ``initdb`` in a temporary folder, ``pg_ctl`` on a free loopback port, with the
``max_connections`` they ask for. Postgres refuses to run as root, so under root the
server runs as the ``postgres`` OS user (``runuser``) in a folder that user owns.
"""

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from runplane.testing.server import free_port

# What a throwaway server can skip: nothing here must survive a crash of the machine.
FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def _bin_dir() -> Path | None:
    """The newest installed server's binaries (Debian keeps them out of PATH)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def unavailable() -> str | None:
    """Why a private Postgres cannot be started here, or None if it can."""
    if _bin_dir() is None:
        return "no Postgres server binaries (initdb, pg_ctl) installed"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root without runuser: initdb refuses root"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres OS user to run initdb as"
    return None


class PrivatePostgres:
    """A Postgres server of a test's own: start, stop, restart, and a URL to reach it."""

    def __init__(self, *, max_connections: int = 40, port: int | None = None) -> None:
        reason = unavailable()
        if reason is not None:
            raise RuntimeError(reason)
        self.bin = _bin_dir()
        self.max_connections = max_connections
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="runplane-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user is not None:
            # The folder is the server user's (mkdtemp makes it 0700 and root's).
            entry = pwd.getpwnam(self._user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._initialized = False

    @property
    def url(self) -> str:
        """The URL of the ``postgres`` database, as the superuser ``postgres``."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        assert self.bin is not None
        command = [str(self.bin / args[0]), *args[1:]]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=self.root, check=False
        )

    def _check(self, *args: str, timeout: float = 60) -> None:
        done = self._run(*args, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(
                f"{args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                f"{self.log_tail()}"
            )

    def start(self) -> "PrivatePostgres":
        """Create the cluster (the first time) and start the server; wait until it answers."""
        if not self._initialized:
            self._check("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N")
            self._initialized = True
        options = {
            "port": str(self.port),
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.root),
            "max_connections": str(self.max_connections),
            **FAST,
        }
        flags = " ".join(f"-c {k}={v}" for k, v in options.items())
        self._check(
            "pg_ctl", "start", "-w", "-t", "30", "-D", str(self.data), "-l", str(self.log_path),
            "-o", flags,
        )  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` ends sessions cleanly, ``immediate`` is a crash."""
        if self._initialized and self.running():
            self._check("pg_ctl", "stop", "-w", "-t", "30", "-m", mode, "-D", str(self.data))

    def restart(self, down_seconds: float = 0.0, mode: str = "fast") -> None:
        """Stop the server, leave it down a while, start it again on the same port."""
        self.stop(mode)
        time.sleep(down_seconds)
        self.start()

    def running(self) -> bool:
        """Whether the server is up."""
        return (
            self._initialized
            and self._run("pg_ctl", "status", "-D", str(self.data)).returncode == 0
        )

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log, for failure messages."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def close(self) -> None:
        """Stop the server for good and remove its files."""
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "PrivatePostgres":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
