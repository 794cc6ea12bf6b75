"""Generate ``_sync.py`` from ``_async.py``, so that the client logic is written once.

Run ``python -m runplane.client._generate_sync`` after editing ``_async.py`` (``--check``
only compares). The rewriting is unasync's: plain token substitutions, then ``ruff
format`` (the lines that lose ``async``/``await`` may fit on one line now). Lines
between ``# unasync: begin async only`` and ``# unasync: end async only`` are dropped.
"""

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ASYNC_SOURCE = HERE / "_async.py"
SYNC_TARGET = HERE / "_sync.py"

HEADER = (
    "# Generated from _async.py by _generate_sync.py; do not edit.\n"
    "# Loops yield item by item because async generators, their source, have no yield from.\n"
    "# ruff: noqa: UP028\n"
)

# Applied in order: the docstring phrases before the bare word they contain.
SUBSTITUTIONS: tuple[tuple[str, str], ...] = (
    (r"\bAn asynchronous\b", "A synchronous"),
    (r"\basynchronous\b", "synchronous"),
    (r"^import asyncio$", "import time"),
    (r"\basyncio\.sleep\b", "time.sleep"),
    (r"\basync (def|for|with)\b", r"\1"),
    (r"\bawait ", ""),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\.a(close|read|iter_lines|iter_bytes)\(", r".\1("),
    # AsyncClient, AsyncIterator, AsyncBaseTransport, AsyncRuns, ...
    (r"\bAsync([A-Z]\w*)", r"\1"),
)

ASYNC_ONLY = re.compile(
    r"^[ \t]*# unasync: begin async only\n.*?^[ \t]*# unasync: end async only\n",
    re.MULTILINE | re.DOTALL,
)


def unasync(source: str) -> str:
    """Rewrite asynchronous source as its synchronous twin (unformatted)."""
    text = ASYNC_ONLY.sub("", source)
    for pattern, replacement in SUBSTITUTIONS:
        text = re.sub(pattern, replacement, text, flags=re.MULTILINE)
    return HEADER + text


def ruff_format(source: str, path: Path) -> str:
    """Format ``source`` as ``ruff format`` would format the file at ``path``."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(path), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        cwd=path.parent,
    )
    return done.stdout


def generate() -> str:
    """Return what ``_sync.py`` must contain, given the current ``_async.py``."""
    return ruff_format(unasync(ASYNC_SOURCE.read_text()), SYNC_TARGET)


def main(argv: list[str]) -> None:
    """Write ``_sync.py``; with ``--check``, only exit non-zero if it is out of date."""
    expected = generate()
    if "--check" not in argv:
        SYNC_TARGET.write_text(expected)
    elif SYNC_TARGET.read_text() != expected:
        sys.exit(f"{SYNC_TARGET} is out of date: run python -m runplane.client._generate_sync")


if __name__ == "__main__":
    main(sys.argv[1:])
