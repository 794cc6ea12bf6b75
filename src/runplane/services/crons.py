"""Crons: graph runs started on a schedule, on a thread or stateless each time."""

import logging
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from runplane.domain.errors import Invalid, NotFound
from runplane.domain.json import JSONObject
from runplane.domain.models import CronRecord, Principal, utcnow
from runplane.domain.roles import Permission
from runplane.schemas.agent_protocol import CronCreate, CronPatch, CronSearch, RunCreateBody, ts
from runplane.services import assistants as assistants_svc
from runplane.services import graph_runs
from runplane.services import threads as threads_svc
from runplane.services.runtime import Runtime
from runplane.services.webhooks import check_webhook
from runplane.store import graphs as store

log = logging.getLogger("runplane.crons")
_PAYLOAD_FIELDS = set(RunCreateBody.model_fields) - {"assistant_id"}


def next_run(schedule: str, timezone: str | None, after: datetime) -> datetime:
    """The first time after ``after`` that the schedule names (in its time zone)."""
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid.field("timezone", f"unknown time zone {timezone!r}", timezone) from None
    if not croniter.is_valid(schedule):
        raise Invalid.field("schedule", f"not a cron expression: {schedule!r}", schedule)
    due: datetime = croniter(schedule, after.astimezone(zone)).get_next(datetime)
    return due


async def create(
    rt: Runtime, who: Principal, thread_id: str | None, body: CronCreate
) -> CronRecord:
    """Record a cron; its first run is at the schedule's next time (as the key's user)."""
    who.require(Permission.CREATE_RUNS)
    check_webhook(rt.settings, "webhook", body.webhook)
    assistant = await assistants_svc.get(rt, who, body.assistant_id)
    if thread_id is not None:
        await threads_svc.get(rt, who, thread_id)
    now = utcnow()
    first: datetime | None = next_run(body.schedule, body.timezone, now)
    if body.end_time is not None and first is not None and first > body.end_time:
        first = None
    row: CronRecord = {
        "id": str(uuid.uuid4()),
        "tenant_id": who.tenant_id,
        "assistant_id": assistant["id"],
        "thread_id": thread_id,
        "schedule": body.schedule,
        "timezone": body.timezone,
        "payload": body.model_dump(mode="json", include=_PAYLOAD_FIELDS, exclude_none=True),
        "metadata": body.metadata or {},
        "enabled": body.enabled and first is not None,
        "on_run_completed": body.on_run_completed,
        "end_time": body.end_time,
        "next_run_date": first,
        "user_id": who.user_id,
        "created_at": now,
        "updated_at": now,
    }
    async with rt.db.write() as conn:
        await store.insert_cron(conn, row)
    return row


async def get(rt: Runtime, who: Principal, cron_id: str) -> CronRecord:
    """One cron of the tenant."""
    async with rt.db.read() as conn:
        row = await store.get_cron(conn, who.tenant_id, cron_id)
    if row is None:
        raise NotFound(f"no cron {cron_id!r}", [{"name": "cron_id", "value": cron_id}])
    return row


async def update(rt: Runtime, who: Principal, cron_id: str, body: CronPatch) -> CronRecord:
    """Change a cron's schedule, payload or state."""
    who.require(Permission.CREATE_RUNS)
    check_webhook(rt.settings, "webhook", body.webhook)
    row: CronRecord = {**await get(rt, who, cron_id)}
    given = body.model_dump(exclude_unset=True)
    payload = dict(row["payload"])
    for key in ("input", "config", "context", "webhook"):
        if key in given:
            payload[key] = given[key]
    now = utcnow()
    row["payload"], row["updated_at"] = payload, now
    fields: dict[str, object] = {"payload": payload, "updated_at": now}
    if body.schedule is not None:
        row["schedule"] = fields["schedule"] = body.schedule
    if body.timezone is not None:
        row["timezone"] = fields["timezone"] = body.timezone
    if body.end_time is not None:
        row["end_time"] = fields["end_time"] = body.end_time
    if body.enabled is not None:
        row["enabled"] = fields["enabled"] = body.enabled
    if body.metadata is not None:
        row["metadata"] = fields["metadata"] = body.metadata
    fields["next_run_date"] = row["next_run_date"] = next_run(
        row["schedule"], row["timezone"], utcnow()
    )
    async with rt.db.write() as conn:
        await store.update_cron(conn, who.tenant_id, cron_id, **fields)
    return row


async def delete(rt: Runtime, who: Principal, cron_id: str) -> None:
    """Delete a cron."""
    who.require(Permission.DELETE)
    await get(rt, who, cron_id)
    async with rt.db.write() as conn:
        await store.delete_cron(conn, who.tenant_id, cron_id)


async def search(rt: Runtime, who: Principal, body: CronSearch) -> list[CronRecord]:
    """Crons matching assistant, thread and enabled."""
    async with rt.db.read() as conn:
        rows = await store.list_crons(conn, who.tenant_id)
    found = []
    for r in rows:
        if body.assistant_id is not None and body.assistant_id not in (r["assistant_id"],):
            try:
                wanted = await assistants_svc.get(rt, who, body.assistant_id)
            except NotFound:
                continue
            if wanted["id"] != r["assistant_id"]:
                continue
        if body.thread_id is not None and r["thread_id"] != body.thread_id:
            continue
        if body.enabled is not None and r["enabled"] != body.enabled:
            continue
        found.append(r)
    return found


async def start_due(rt: Runtime) -> int:
    """Start the runs of every due cron (one process wins each); return how many."""
    now = utcnow()
    async with rt.db.read() as conn:
        due = await store.due_crons(conn, now)
    started = 0
    for cron in due:
        due_at = cron["next_run_date"]
        if due_at is None:
            continue  # not scheduled (the query finds none such)
        upcoming: datetime | None = next_run(cron["schedule"], cron["timezone"], now)
        if cron["end_time"] is not None and upcoming is not None and upcoming > cron["end_time"]:
            upcoming = None
        async with rt.db.write() as conn:
            won = await store.claim_cron(conn, cron["tenant_id"], cron["id"], due_at, upcoming)
        if not won:
            continue
        who = Principal(
            tenant_id=cron["tenant_id"],
            key_id=f"cron:{cron['id']}",
            user_id=cron["user_id"],
            via="schedule",
        )
        body = RunCreateBody.model_validate(
            {**cron["payload"], "assistant_id": cron["assistant_id"]}
        )
        if cron["thread_id"] is None and cron["on_run_completed"] == "keep":
            body.on_completion = "keep"
        try:
            await graph_runs.create(rt, who, cron["thread_id"], body, trigger="schedule")
            started += 1
        except Exception:
            log.exception("cron %s could not start its run", cron["id"])
    return started


def cron_json(row: CronRecord, who: Principal) -> JSONObject:
    """A cron as the protocol shows it; the hidden ``context`` of its runs to admin keys only."""
    payload = row["payload"]
    if "context" in payload and not who.can(Permission.SEE_CONTEXT):
        payload = {k: v for k, v in payload.items() if k != "context"}
    return {
        "cron_id": row["id"],
        "assistant_id": row["assistant_id"],
        "thread_id": row["thread_id"],
        "on_run_completed": row["on_run_completed"],
        "end_time": ts(row["end_time"]),
        "schedule": row["schedule"],
        "timezone": row["timezone"],
        "created_at": ts(row["created_at"]),
        "updated_at": ts(row["updated_at"]),
        "payload": payload,
        "user_id": row["user_id"],
        "next_run_date": ts(row["next_run_date"]),
        "metadata": row["metadata"],
        "enabled": row["enabled"],
    }
