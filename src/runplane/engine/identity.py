"""A stable, unique executor id for each process.

DBOS recovers a process's pending workflows only under the same executor id, and two
live processes sharing one id would run the same workflow twice. So each process takes
the first free numbered slot for its host and role, held by a file lock that the
kernel releases when the process dies, and a restarted process gets its old id back.

The host name alone does not tell hosts apart (containers built from one image, or
network namespaces on one machine, may share it), so each slot also keeps a random
suffix, made when the slot is first taken and stored in its lock file: the id is
``<host>-<role>-<n>-<suffix>``. A process restarted in the same slot (the same data
directory) reads the suffix back; a slot in another data directory never has it.
"""

import fcntl
import os
import re
import secrets
import socket
from pathlib import Path
from typing import IO

LOCK_DIR = Path(".runplane") / "executors"
# 8 hex digits: a collision between two slots needs about 65,000 of them on one name.
SUFFIX_BYTES = 4
_SUFFIX = re.compile(r"[0-9a-f]{8}")


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


def claim_executor_id(explicit: str | None, role: str, lock_dir: Path = LOCK_DIR) -> ExecutorSlot:
    """Use ``explicit`` if given, else the first free ``<host>-<role>-<n>-<suffix>``."""
    if explicit:
        return ExecutorSlot(explicit, None)
    host = socket.gethostname()
    lock_dir.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        slot = f"{host}-{role}-{n}"
        # Opened without truncating: the suffix written by an earlier holder is read back.
        handle = open(lock_dir / f"{slot}.lock", "a+")  # noqa: SIM115 - held for life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        handle.seek(0)
        first = handle.readline().strip()
        suffix = first if _SUFFIX.fullmatch(first) else secrets.token_hex(SUFFIX_BYTES)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{suffix}\n{os.getpid()}\n")
        handle.flush()
        return ExecutorSlot(f"{slot}-{suffix}", handle)
    raise RuntimeError(f"no free executor slot in {lock_dir}")
