"""Logging: the run a line is about (placeholder until the logging setup lands)."""

import contextlib
import contextvars
from collections.abc import Iterator

RUN: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("run", default=None)


@contextlib.contextmanager
def bind_run(run_id: str, tenant: str) -> Iterator[None]:
    """Have every line logged inside the block carry ``run_id`` and ``tenant``."""
    token = RUN.set((run_id, tenant))
    try:
        yield
    finally:
        RUN.reset(token)
