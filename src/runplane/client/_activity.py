"""The calls of the activity log (``/v1/governance/activity``), built but not sent."""

import contextlib
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from runplane.client._base import BaseClient, Call
from runplane.schemas import AuditEventPublic, Page

ACTIVITY = "/v1/governance/activity"
OnProgress = Callable[[int], None]  # told the bytes an export has written so far
FILTERS = ("actor", "actor_type", "resource", "resource_id", "action", "since", "until")


def activity_params(filters: Mapping[str, Any]) -> dict[str, Any]:
    """The query of a filter set: known names only, times in RFC 3339, blanks left out."""
    unknown = set(filters) - set(FILTERS) - {"limit", "continuation_token"}
    if unknown:
        raise TypeError(f"unknown activity filters: {', '.join(sorted(unknown))}")
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in filters.items()
        if value is not None
    }


class ActivityCalls:
    """``GET /v1/governance/activity``: a page, or the whole filtered log as a download."""

    def __init__(self, base: BaseClient) -> None:
        self._base = base

    def list(self, filters: Mapping[str, Any]) -> Call[Page[AuditEventPublic]]:
        """A page of activity matching ``filters`` (with ``limit`` and ``continuation_token``)."""
        params = activity_params(filters)
        return self._base.call("GET", ACTIVITY, Page[AuditEventPublic], params=params)

    def export(self, filters: Mapping[str, Any], format: str) -> httpx.Request:
        """The export of every row matching ``filters`` as ``jsonl`` or ``csv`` (streamed)."""
        params = {**activity_params(filters), "format": format}
        return self._base.build_request("GET", ACTIVITY, params=params)


@contextlib.contextmanager
def writable(target: str | Path | BinaryIO) -> Iterator[BinaryIO]:
    """A file to write an export to: one opened (and closed) here, or the caller's own."""
    if isinstance(target, str | Path):
        with open(target, "wb") as out:
            yield out
    else:
        yield target
