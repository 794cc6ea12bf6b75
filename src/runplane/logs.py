"""The process's one logging setup, and the run scope every line about a run carries.

``configure_logging`` is called once by each entry point (``serve``, ``worker``); it
puts one handler on the root logger, so runplane's, uvicorn's and DBOS's records all
come out in one format: text, or one JSON object per line. Inside ``bind_run(run_id,
tenant)`` (and in the tasks started from it) every record gets ``run_id`` and
``tenant``; an explicit ``extra={"run_id": …, "tenant": …}`` wins over the scope.
"""

import contextvars
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import orjson

LogFormat = Literal["text", "json"]
HANDLER_NAME = "runplane"
RUN_FIELDS = ("run_id", "tenant")
# uvicorn's name for its level below DEBUG; accepted here as uvicorn accepts it.
TRACE = 5

_run: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "runplane_run", default=None
)
# What every LogRecord has: anything else on a record came from ``extra``.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


@contextmanager
def bind_run(run_id: str, tenant: str) -> Iterator[None]:
    """Tag every record logged in this block, and in tasks started from it, with the run."""
    token = _run.set((run_id, tenant))
    try:
        yield
    finally:
        _run.reset(token)


class RunScopeFilter(logging.Filter):
    """Put the bound run's ``run_id`` and ``tenant`` on records that name no run."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the run fields (never drops a record)."""
        bound = _run.get()
        if bound is not None and not any(hasattr(record, f) for f in RUN_FIELDS):
            record.run_id, record.tenant = bound
        return True


def timestamp(record: logging.LogRecord) -> str:
    """The record's time in UTC, to the millisecond: ``2026-11-30T10:00:00.123Z``."""
    at = datetime.fromtimestamp(record.created, tz=UTC)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger> run_id=… tenant=… <message>``, then any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """One line (more with a traceback)."""
        parts = [timestamp(record), record.levelname, record.name]
        parts += [f"{f}={getattr(record, f)}" for f in RUN_FIELDS if hasattr(record, f)]
        parts.append(record.getMessage())
        line = " ".join(parts)
        trace = _trace(self, record)
        return f"{line}\n{trace}" if trace else line


class JsonFormatter(logging.Formatter):
    """One JSON object per record: at, level, logger, message, the run, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        """One line, whatever the message holds (newlines are escaped)."""
        out: dict[str, Any] = {
            "at": timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in RUN_FIELDS:
            if hasattr(record, key):
                out[key] = getattr(record, key)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in out:
                out[key] = value
        trace = _trace(self, record)
        if trace:
            out["exc"] = trace
        return orjson.dumps(out, default=str).decode()


def _trace(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    """The record's traceback and stack, as text ('' when it has neither)."""
    parts = []
    if record.exc_info:
        parts.append(formatter.formatException(record.exc_info))
    elif record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(formatter.formatStack(record.stack_info))
    return "\n".join(parts)


def level_number(level: str) -> int:
    """The number of a level name (``warning``, ``INFO``, ``trace``…); ValueError if unknown."""
    name = level.strip().upper()
    if name == "TRACE":
        logging.addLevelName(TRACE, "TRACE")
        return TRACE
    number = logging.getLevelNamesMapping().get(name)
    if number is None:
        raise ValueError(f"unknown log level {level!r}: use debug, info, warning or error")
    return number


def configure_logging(level: str, fmt: LogFormat, *, stream: TextIO | None = None) -> None:
    """Send every logger's records to one handler on ``stream`` (stderr), in ``fmt``.

    Calling it again replaces the handler it installed before, so it never doubles lines.
    """
    number = level_number(level)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RunScopeFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    # Other libraries stay at warnings (as without a setup) unless asked for less.
    root.setLevel(max(number, logging.WARNING))
    logging.getLogger("runplane").setLevel(number)
    # Libraries that install console handlers of their own (and stop propagation) give
    # way to ours: uvicorn's default config, and DBOS, which does so on a "dbos" logger
    # that has no handler (a null one keeps it from doing so when it launches later).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "dbos"):
        logger = logging.getLogger(name)
        for own in [h for h in logger.handlers if not isinstance(h, logging.NullHandler)]:
            logger.removeHandler(own)
        logger.propagate = True
        logger.disabled = False  # a logging config loaded earlier may have disabled it
    dbos = logging.getLogger("dbos")
    if not dbos.handlers:
        dbos.addHandler(logging.NullHandler())
    # Python's warnings (deprecations…) become records too, so that with the JSON
    # format every line of the output is JSON.
    logging.captureWarnings(True)
