"""Reading the activity log: who did what, filtered, paged, or exported whole (admin keys).

An export reads the filtered rows in keyset batches, each in its own short read, so a
log of any size streams out without sitting in memory or holding a transaction open.
"""

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Literal

from runplane.domain.errors import BadRequest, Invalid
from runplane.domain.models import AuditEventRecord, Principal, iso
from runplane.domain.roles import Permission
from runplane.services.runtime import Runtime
from runplane.store import audit as store
from runplane.store.audit import ActivityFilter
from runplane.store.runs import decode_token, encode_token

ExportFormat = Literal["jsonl", "csv"]
EXPORT_BATCH = 500
CSV_COLUMNS = (
    "id",
    "at",
    "actor_type",
    "actor_key_id",
    "actor_role",
    "actor_user_id",
    "action",
    "target_type",
    "target_id",
    "data",
)
MEDIA_TYPES: dict[ExportFormat, str] = {
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
}


def _utc(at: datetime | None) -> datetime | None:
    """A filter's time in UTC (a time without an offset is read as UTC)."""
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def checked_filter(only: ActivityFilter) -> ActivityFilter:
    """The filter with its times in UTC, or Invalid if it cannot match by construction."""
    since, until = _utc(only.since), _utc(only.until)
    if since is not None and until is not None and since > until:
        raise Invalid(
            "since is after until: no activity can match",
            [{"name": "since", "value": iso(since)}, {"name": "until", "value": iso(until)}],
        )
    return ActivityFilter(**{**only.__dict__, "since": since, "until": until})


def _after(token: str | None) -> tuple[datetime, str] | None:
    if token is None:
        return None
    try:
        return decode_token(token)
    except BadRequest:
        raise Invalid.field(
            "continuation_token", "continuation_token is not one this server issued", token
        ) from None


async def page(
    rt: Runtime, who: Principal, only: ActivityFilter, limit: int, token: str | None
) -> tuple[list[AuditEventRecord], str | None]:
    """A page of the tenant's activity matching ``only``, newest first, and the next token."""
    who.require(Permission.READ_AUDIT)
    return await _page(rt, who, checked_filter(only), limit, _after(token))


async def list_events(
    rt: Runtime, who: Principal, limit: int, continuation_token: str | None
) -> tuple[list[AuditEventRecord], str | None]:
    """A page of all the tenant's activity, newest first (``/v1/audit-events``)."""
    who.require(Permission.READ_AUDIT)
    after = decode_token(continuation_token) if continuation_token else None
    return await _page(rt, who, ActivityFilter(), limit, after)


async def _page(
    rt: Runtime,
    who: Principal,
    only: ActivityFilter,
    limit: int,
    after: tuple[datetime, str] | None,
) -> tuple[list[AuditEventRecord], str | None]:
    async with rt.db.read() as conn:
        rows = await store.list_events(conn, who.tenant_id, limit=limit, after=after, only=only)
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_token(rows[-1]["at"], rows[-1]["id"])
    return rows, None


def start_export(who: Principal, only: ActivityFilter) -> ActivityFilter:
    """Check, before the first byte is sent, that an export may start; its checked filter."""
    who.require(Permission.READ_AUDIT)
    return checked_filter(only)


async def all_rows(
    rt: Runtime, who: Principal, only: ActivityFilter
) -> AsyncIterator[AuditEventRecord]:
    """Every row matching ``only``, newest first, read a batch at a time."""
    after: tuple[datetime, str] | None = None
    while True:
        async with rt.db.read() as conn:
            rows = await store.list_events(
                conn, who.tenant_id, limit=EXPORT_BATCH, after=after, only=only
            )
        for row in rows[:EXPORT_BATCH]:
            yield row
        if len(rows) <= EXPORT_BATCH:
            return
        last = rows[EXPORT_BATCH - 1]
        after = (last["at"], last["id"])


def as_json(row: AuditEventRecord) -> dict[str, object]:
    """One row as the API shows it (times in RFC 3339)."""
    return {
        "id": row["id"],
        "object": "audit_event",
        "at": iso(row["at"]),
        "actor_key_id": row["actor_key_id"],
        "actor_type": row["actor_type"],
        "actor_role": row["actor_role"],
        "actor_user_id": row["actor_user_id"],
        "action": row["action"],
        "target_type": row["target_type"],
        "target_id": row["target_id"],
        "data": row["data"],
    }


async def export(
    rt: Runtime, who: Principal, only: ActivityFilter, fmt: ExportFormat
) -> AsyncIterator[str]:
    """The whole filtered log as JSON Lines or CSV (a header row, ``data`` as JSON), in chunks."""
    if fmt == "csv":
        yield _csv_line(CSV_COLUMNS)
    batch: list[str] = []
    async for row in all_rows(rt, who, only):
        shown = as_json(row)
        if fmt == "jsonl":
            batch.append(json.dumps(shown, separators=(",", ":")) + "\n")
        else:
            shown["data"] = json.dumps(row["data"], separators=(",", ":"), sort_keys=True)
            batch.append(
                _csv_line(tuple("" if shown[c] is None else str(shown[c]) for c in CSV_COLUMNS))
            )
        if len(batch) >= EXPORT_BATCH:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def _csv_line(values: tuple[str, ...]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()


def export_name(fmt: ExportFormat) -> str:
    """The file name an export is offered under."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"activity-{stamp}.{fmt}"
