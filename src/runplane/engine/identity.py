"""A stable, unique executor id for each process.

DBOS recovers a process's pending workflows only under the same executor id, and two
live processes sharing one id would run the same workflow twice. So each process takes
the first free numbered slot for its host and role, held by a file lock that the
kernel releases when the process dies, and a restarted process gets its old id back.
"""

import fcntl
import os
import socket
from pathlib import Path
from typing import IO

LOCK_DIR = Path(".runplane") / "executors"


class ExecutorSlot:
    """An executor id and the lock that keeps it ours."""

    def __init__(self, executor_id: str, handle: IO[str] | None) -> None:
        self.executor_id = executor_id
        self._handle = handle

    def release(self) -> None:
        """Let another process take this id."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def claim_executor_id(
    explicit: str | None, worker: bool, lock_dir: Path = LOCK_DIR
) -> ExecutorSlot:
    """Use ``explicit`` if given, else the first free ``<host>-<role>-<n>``."""
    if explicit:
        return ExecutorSlot(explicit, None)
    role = "worker" if worker else "api"
    host = socket.gethostname()
    lock_dir.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        executor_id = f"{host}-{role}-{n}"
        handle = open(lock_dir / f"{executor_id}.lock", "w")  # noqa: SIM115 - held for life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        handle.write(str(os.getpid()))
        handle.flush()
        return ExecutorSlot(executor_id, handle)
    raise RuntimeError(f"no free executor slot in {lock_dir}")
