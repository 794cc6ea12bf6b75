"""Triggers: what starts runs of an agent without a person asking: a schedule, a webhook, an upload.

A trigger names an agent (and optionally a revision), a default ``input`` and
``variables``, the user its runs act as, and whether it is ``enabled``. Every run it
starts has ``trigger`` = the trigger's kind and ``trigger_id`` = its id.

- ``schedule``: a cron expression in an IANA time zone, between optional ``start_at`` and
  ``end_at``. The process loops' scheduler (``services/scheduler.py``) starts each due
  tick; ``catch_up`` says what becomes of a tick found long after its time (every process
  was down): started ``once`` (however many were missed), or ``skip``ped.
- ``webhook``: ``POST /v1/triggers/{id}/hook``, signed with the trigger's own secret
  (``services/trigger_hooks.py``).
- ``upload``: a file uploaded into the trigger's site whose name matches its ``glob`` and
  whose media type its ``media_type`` (``services/trigger_uploads.py``); the run reads
  the file (``file_ids``). These three fields are kept in ``options``.

A tick or a delivery starts exactly one run: the run is created under an Idempotency-Key
made of the trigger's id and the tick (or the delivery's ``webhook-id``, or the uploaded
content's sha256: the same bytes uploaded again start nothing more), recorded in the
run's own transaction, so processes that race for it, or one that retries after a crash,
all find the same run.
"""

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from croniter.croniter import CroniterError

from runplane.domain.errors import Invalid, NotFound, RunplaneError
from runplane.domain.file_match import check_glob, check_media_type
from runplane.domain.ids import new_id
from runplane.domain.json import JSON, JSONObject
from runplane.domain.models import Principal, RunRecord, TriggerRecord, iso, utcnow
from runplane.domain.roles import Permission
from runplane.schemas import RunCreate, TriggerCreate, TriggerPatch
from runplane.schemas.webhooks import new_secret
from runplane.services import agents as agents_svc
from runplane.services import audit
from runplane.services import runs as runs_svc
from runplane.services.runtime import Runtime
from runplane.store import runs as runs_store
from runplane.store import sites as sites_store
from runplane.store import triggers as store

log = logging.getLogger("runplane.triggers")
# A tick the scheduler reaches later than this after its time was missed (every process
# was down, or stopped): ``catch_up`` decides whether it still starts a run.
MISSED_AFTER = timedelta(seconds=60)
NEXT_FIRE_COUNT = 5
_SCHEDULE_FIELDS = ("schedule", "timezone", "start_at", "end_at")
UPLOAD_FIELDS = ("site_id", "glob", "media_type")


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid.field("timezone", f"unknown time zone {name!r}", name) from None


def _check_cron(expr: str) -> None:
    fields = expr.split()
    if len(fields) not in (5, 6) or not croniter.is_valid(expr, second_at_beginning=True):
        raise Invalid.field(
            "schedule",
            f"not a cron expression: {expr!r} (5 fields, or 6 with seconds first)",
            expr,
        )


def fire_times(
    schedule: str,
    timezone: str | None,
    after: datetime,
    *,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
    count: int = 1,
) -> list[datetime]:
    """The next ``count`` ticks of a schedule after ``after`` (in UTC), within its bounds."""
    zone = _zone(timezone)
    _check_cron(schedule)
    if start_at is not None and start_at > after:
        after = start_at - timedelta(microseconds=1)  # a tick at start_at itself counts
    ticks = croniter(schedule, after.astimezone(zone), second_at_beginning=True)
    found: list[datetime] = []
    try:
        while len(found) < count:
            tick: datetime = ticks.get_next(datetime)
            if end_at is not None and tick > end_at:
                break
            found.append(tick.astimezone(after.tzinfo))
    except CroniterError:
        if not found:
            raise Invalid.field(
                "schedule", f"the schedule {schedule!r} never fires", schedule
            ) from None
    return found


def next_fire(row: TriggerRecord, after: datetime) -> datetime | None:
    """A schedule's first tick after ``after``; None when it has none left (past ``end_at``)."""
    assert row["schedule"] is not None
    try:
        found = fire_times(
            row["schedule"],
            row["timezone"],
            after,
            start_at=row["start_at"],
            end_at=row["end_at"],
        )
    except Invalid:
        return None
    return found[0] if found else None


def upcoming(row: TriggerRecord, count: int = NEXT_FIRE_COUNT) -> list[datetime]:
    """The next ``count`` ticks of an active schedule, from its ``next_fire_at``."""
    due = row["next_fire_at"]
    if row["kind"] != "schedule" or due is None or not row["enabled"] or row["paused"]:
        return []
    assert row["schedule"] is not None
    later = fire_times(
        row["schedule"],
        row["timezone"],
        due,
        start_at=row["start_at"],
        end_at=row["end_at"],
        count=count - 1,
    )
    return [due, *later]


def _check_schedule(row: TriggerRecord, now: datetime) -> datetime:
    """The first tick of a schedule being saved; 422 naming the field if it has none."""
    if row["schedule"] is None:
        raise Invalid.field("schedule", "a schedule trigger needs a cron expression")
    _zone(row["timezone"])
    if row["start_at"] and row["end_at"] and row["end_at"] <= row["start_at"]:
        raise Invalid.field("end_at", "end_at must come after start_at", iso(row["end_at"]))
    found = fire_times(
        row["schedule"], row["timezone"], now, start_at=row["start_at"], end_at=row["end_at"]
    )
    if not found:
        raise Invalid.field(
            "end_at",
            f"the schedule {row['schedule']!r} never fires before end_at",
            iso(row["end_at"]) if row["end_at"] else None,
        )
    return found[0]


def _check_mapping(mapping: dict[str, str] | None, schema: JSON) -> None:
    """A webhook mapping's pointers parse and its fields fit the agent's input schema."""
    if not mapping:
        return
    for field, pointer in mapping.items():
        name = f"mapping.{field}"
        if not field:
            raise Invalid.field(name, "a mapping names input fields; '' is not one", field)
        if pointer and not pointer.startswith("/"):
            raise Invalid.field(
                name, f"{pointer!r} is not a JSON Pointer (start with '/')", pointer
            )
    if not isinstance(schema, dict):
        return
    if schema.get("type") not in (None, "object"):
        raise Invalid.field(
            "mapping",
            f"the agent's input is a {schema.get('type')}, not an object with fields",
            list(mapping),
        )
    properties = schema.get("properties")
    open_ended = schema.get("additionalProperties", True) is not False and not isinstance(
        properties, dict
    )
    if isinstance(properties, dict) and not open_ended:
        for field in mapping:
            if field not in properties:
                raise Invalid.field(
                    f"mapping.{field}",
                    f"the agent's input has no field {field!r} "
                    f"(it has: {', '.join(sorted(properties)) or 'none'})",
                    field,
                )


def resolve_pointer(document: JSON, pointer: str) -> tuple[bool, JSON]:
    """The value at a JSON Pointer (RFC 6901) in ``document``: (found, value)."""
    value = document
    if pointer == "":
        return True, value
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            return False, None
    return True, value


def mapped_input(row: TriggerRecord, body: JSONObject) -> JSON:
    """A webhook run's input: the trigger's default input with each mapped field taken from
    the body; without a mapping, the body itself."""
    mapping = row["mapping"]
    if not mapping:
        return body
    default = row["input"]
    result: JSONObject = dict(default) if isinstance(default, dict) else {}
    for field, pointer in mapping.items():
        found, value = resolve_pointer(body, pointer)
        if found:
            result[field] = value
    return result


async def _input_schema(rt: Runtime, who: Principal, body: TriggerCreate) -> tuple[str, JSON]:
    """The agent's id and the input schema of the revision its runs would use."""
    agent = await agents_svc.find_agent(rt, who, body.agent_id)
    if body.revision_id is None and agent["published_revision_id"] is None:
        return agent["id"], None  # nothing published yet: checked when it fires
    revision = await agents_svc.resolve_revision(rt, agent, body.revision_id)
    return agent["id"], revision["config"].get("input_schema")


async def create(
    rt: Runtime, who: Principal, body: TriggerCreate
) -> tuple[TriggerRecord, str | None]:
    """Record a trigger; a webhook's secret is returned here, once, and stored sealed."""
    who.require(Permission.CREATE_RUNS)
    user_id = runs_svc.run_user(who, body.user_id)
    agent_id, schema = await _input_schema(rt, who, body)
    now = utcnow()
    secret: str | None = None
    row: TriggerRecord = {
        "id": new_id("trg"),
        "tenant_id": who.tenant_id,
        "kind": body.kind,
        "name": body.name,
        "agent_id": agent_id,
        "revision_id": body.revision_id,
        "input": body.input,
        "variables": body.variables,
        "enabled": body.enabled,
        "user_id": user_id,
        "created_by_key_id": who.key_id,
        "schedule": None,
        "timezone": None,
        "start_at": None,
        "end_at": None,
        "catch_up": None,
        "paused": False,
        "next_fire_at": None,
        "last_fired_at": None,
        "secret": None,
        "mapping": None,
        "options": {},
        "last_run_id": None,
        "created_at": now,
        "updated_at": now,
    }
    _refuse_others(body.kind, body.model_dump(exclude_unset=True), catch_up=False)
    if body.kind == "schedule":
        row["schedule"], row["timezone"] = body.schedule, body.timezone or "UTC"
        row["start_at"], row["end_at"] = body.start_at, body.end_at
        row["catch_up"] = body.catch_up
        row["next_fire_at"] = _check_schedule(row, now)
        runs_svc.validate_input(schema, body.input)
    elif body.kind == "webhook":
        _check_mapping(body.mapping, schema)
        secret = new_secret()
        row["mapping"], row["secret"] = body.mapping, rt.keys.seal(secret)
    else:
        if body.site_id is None:
            raise Invalid.field("site_id", "an upload trigger needs the site it watches")
        row["options"] = await _upload_options(rt, who, body.model_dump(include=set(UPLOAD_FIELDS)))
        runs_svc.validate_input(schema, body.input)
    async with rt.db.write() as conn:
        await store.insert(conn, row)
        await audit.record(conn, who, "trigger.created", "trigger", row["id"], {"kind": body.kind})
    return row, secret


def _refuse_others(kind: str, given: dict[str, object], *, catch_up: bool) -> None:
    """422 naming the first field given that belongs to another kind of trigger
    (``catch_up`` too when asked: a create's body has it by default)."""
    others = {
        "schedule": (*_SCHEDULE_FIELDS, *(("catch_up",) if catch_up else ())),
        "webhook": ("mapping",),
        "upload": UPLOAD_FIELDS,
    }
    for other, names in others.items():
        for name in names if other != kind else ():
            value = given.get(name)
            if value is not None:
                shown = value if isinstance(value, str) else None
                raise Invalid.field(name, f"a {kind} trigger has no {name}", shown)


async def _upload_options(rt: Runtime, who: Principal, given: dict[str, object]) -> JSONObject:
    """An upload trigger's ``options``: its site (of the tenant, by id or name), glob and
    media type pattern, each checked (422 naming the field)."""
    site_id = str(given["site_id"])
    async with rt.db.read() as conn:
        site = await sites_store.get(conn, who.tenant_id, site_id)
    if site is None:
        raise Invalid.field("site_id", f"no site {site_id!r}", site_id)
    glob, media_type = given.get("glob"), given.get("media_type")
    return {
        "site_id": site["id"],
        "glob": None if glob is None else check_glob(str(glob)),
        "media_type": None if media_type is None else check_media_type(str(media_type)),
    }


async def get(rt: Runtime, who: Principal, trigger_id: str) -> TriggerRecord:
    """One trigger of the tenant, or NotFound."""
    async with rt.db.read() as conn:
        row = await store.get(conn, who.tenant_id, trigger_id)
    if row is None:
        raise NotFound(f"no trigger {trigger_id!r}", [{"name": "trigger_id", "value": trigger_id}])
    return row


async def list_triggers(
    rt: Runtime,
    who: Principal,
    *,
    kind: str | None,
    agent_id: str | None,
    enabled: bool | None,
    limit: int,
    continuation_token: str | None,
) -> tuple[list[TriggerRecord], str | None]:
    """A page of the tenant's triggers, oldest first; filters by kind, agent, enabled."""
    if agent_id:
        agent_id = (await agents_svc.find_agent(rt, who, agent_id))["id"]
    after = runs_store.decode_token(continuation_token) if continuation_token else None
    async with rt.db.read() as conn:
        rows = await store.list_for_tenant(
            conn,
            who.tenant_id,
            kind=kind,
            agent_id=agent_id,
            enabled=enabled,
            limit=limit,
            after=after,
        )
    return runs_store.page_of(rows, limit)


async def update(rt: Runtime, who: Principal, trigger_id: str, body: TriggerPatch) -> TriggerRecord:
    """Change a trigger; a schedule's next tick is computed again from now."""
    who.require(Permission.CREATE_RUNS)
    row: TriggerRecord = {**await get(rt, who, trigger_id)}
    given = body.model_dump(exclude_unset=True)
    _refuse_others(row["kind"], given, catch_up=True)
    if row["kind"] == "upload" and any(name in given for name in UPLOAD_FIELDS):
        kept = {**row["options"], **{k: given.pop(k) for k in UPLOAD_FIELDS if k in given}}
        if kept.get("site_id") is None:
            raise Invalid.field("site_id", "an upload trigger needs the site it watches")
        row["options"] = await _upload_options(rt, who, kept)
        given["options"] = row["options"]
    for name, value in given.items():
        row[name] = value  # type: ignore[literal-required]
    row["variables"] = row["variables"] or {}
    now = row["updated_at"] = utcnow()
    schema = (await _input_schema(rt, who, _as_create(row)))[1]
    if row["kind"] == "schedule":
        row["next_fire_at"] = _check_schedule(row, now) if row["enabled"] else None
        runs_svc.validate_input(schema, row["input"])
    elif row["kind"] == "webhook":
        _check_mapping(row["mapping"], schema)
    else:
        runs_svc.validate_input(schema, row["input"])
    changes = {k: row[k] for k in (*given, "variables", "updated_at", "next_fire_at")}  # type: ignore[literal-required]
    async with rt.db.write() as conn:
        await store.update(conn, who.tenant_id, trigger_id, **changes)
        await audit.record(
            conn, who, "trigger.updated", "trigger", trigger_id, {"changed": [*sorted(given)]}
        )
    return row


def _as_create(row: TriggerRecord) -> TriggerCreate:
    return TriggerCreate.model_construct(
        kind=row["kind"], agent_id=row["agent_id"], revision_id=row["revision_id"]
    )


async def set_state(
    rt: Runtime,
    who: Principal,
    trigger_id: str,
    *,
    enabled: bool | None = None,
    paused: bool | None = None,
) -> TriggerRecord:
    """Enable or disable a trigger, or pause or resume a schedule; a schedule that starts
    again fires from its next tick after now (ticks while it was off are not caught up)."""
    who.require(Permission.CREATE_RUNS)
    row: TriggerRecord = {**await get(rt, who, trigger_id)}
    if paused is not None and row["kind"] != "schedule":
        raise Invalid.field("paused", f"only schedules pause; this is a {row['kind']} trigger")
    if enabled is not None:
        row["enabled"] = enabled
    if paused is not None:
        row["paused"] = paused
    now = row["updated_at"] = utcnow()
    if row["kind"] == "schedule":
        active = row["enabled"] and not row["paused"]
        row["next_fire_at"] = next_fire(row, now) if active else None
    async with rt.db.write() as conn:
        await store.update(
            conn,
            who.tenant_id,
            trigger_id,
            enabled=row["enabled"],
            paused=row["paused"],
            next_fire_at=row["next_fire_at"],
            updated_at=now,
        )
        action = "enabled" if enabled else "disabled" if enabled is not None else ""
        action = action or ("paused" if paused else "resumed")
        await audit.record(conn, who, f"trigger.{action}", "trigger", trigger_id)
    return row


async def delete(rt: Runtime, who: Principal, trigger_id: str) -> None:
    """Delete a trigger; the runs it started stay (with its id)."""
    who.require(Permission.DELETE)
    async with rt.db.write() as conn:
        found = await store.delete(conn, who.tenant_id, trigger_id)
        if found:
            await audit.record(conn, who, "trigger.deleted", "trigger", trigger_id)
    if not found:
        raise NotFound(f"no trigger {trigger_id!r}", [{"name": "trigger_id", "value": trigger_id}])


def acting_as(row: TriggerRecord) -> Principal:
    """Who a trigger's runs are started as: its tenant, a member, its user."""
    return Principal(
        tenant_id=row["tenant_id"],
        key_id=f"trigger:{row['id']}",
        role="member",
        user_id=row["user_id"],
        # A scheduled trigger acts as the schedule; a webhook or an upload as the trigger.
        via="schedule" if row["kind"] == "schedule" else "trigger",
    )


async def start_run(
    rt: Runtime, row: TriggerRecord, run_input: JSON, key: str, file_ids: list[str] | None = None
) -> RunRecord:
    """Start (or find, by ``key``) the one run of a tick, a delivery or an upload."""
    body = RunCreate(
        file_ids=file_ids,
        agent_id=row["agent_id"],
        revision_id=row["revision_id"],
        name=row["name"],
        input=run_input,
        variables=row["variables"] or {},
        user_id=row["user_id"],
        trigger=row["kind"],  # type: ignore[arg-type]
    )
    return await runs_svc.create_run(
        rt, acting_as(row), body, idempotency_key=key, extra={"trigger_id": row["id"]}
    )


async def start_due(rt: Runtime) -> int:
    """Start the run of each due schedule tick (one run per tick whatever the number of
    processes); return how many this process started or found started."""
    now = utcnow()
    async with rt.db.read() as conn:
        due = await store.due(conn, now)
    started = 0
    for row in due:
        started += await fire(rt, row, now)
    return started


async def fire(rt: Runtime, row: TriggerRecord, now: datetime) -> int:
    """Start the run of a schedule's due tick (or skip it, if missed and ``catch_up`` is
    ``skip``), then move the schedule on; 1 if a run is there for the tick."""
    due_at = row["next_fire_at"]
    assert due_at is not None
    missed = now - due_at > MISSED_AFTER
    run_id: str | None = None
    if not missed or row["catch_up"] == "once":
        try:
            run = await start_run(rt, row, row["input"], f"trigger:{row['id']}:{iso(due_at)}")
            run_id = run["id"]
        except RunplaneError as exc:
            # The trigger's agent, revision or input went bad: this tick is lost, the next
            # one tries again (the same Idempotency-Key reused with another request: a
            # process that raced for this tick with an older copy of the trigger won it).
            log.warning(
                "trigger %s could not start its run for %s: %s",
                row["id"],
                iso(due_at),
                exc,
                extra={"tenant": row["tenant_id"], "trigger_id": row["id"]},
            )
    else:
        log.info(
            "trigger %s skipped its missed tick %s (catch_up=skip)",
            row["id"],
            iso(due_at),
            extra={"tenant": row["tenant_id"], "trigger_id": row["id"]},
        )
    async with rt.db.write() as conn:
        await store.advance(conn, row["id"], due_at, next_fire(row, now), due_at, run_id)
    return 1 if run_id else 0
