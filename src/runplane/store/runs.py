"""Runs, their steps and their events: rows in, rows out."""

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

import sqlalchemy as sa

from runplane.domain.errors import BadRequest
from runplane.domain.events import GENESIS, StatusNote, event_hash
from runplane.domain.lifecycle import TERMINAL, RunStatus, transition
from runplane.domain.models import (
    EventRecord,
    IdempotencyRecord,
    NewEvent,
    RunRecord,
    StepRow,
    iso,
    utcnow,
)
from runplane.store.db import Conn, direct
from runplane.store.dialect import insert_if_absent, upsert
from runplane.store.liveness import LivenessFilter, has_liveness
from runplane.store.schema import (
    approvals,
    events,
    idempotency_keys,
    runs,
    steps,
    stream_parts,
    tenants,
)

# A row with ``created_at`` and ``id``: what keyset pages are cut on.
_Row = TypeVar("_Row", bound=Mapping[str, Any])
# What a paged statement selects.
_Selected = TypeVar("_Selected", bound=tuple[object, ...])


class StaleRun(Exception):  # noqa: N818 - a retry signal inside the engine
    """The run changed under a writer (another writer appended or moved it)."""


class Fenced(BaseException):  # noqa: N818 - a stop signal, like cancellation
    """A write of an attempt that no longer holds the run: refused, nothing written.

    A ``BaseException``, so that an agent's ``except Exception`` cannot swallow it and
    carry on; the worker stops the attempt without writing anything further.
    """

    def __init__(self, run_id: str, epoch: int, now: int | None, owner: str | None) -> None:
        super().__init__(run_id, epoch, now, owner)
        self.run_id = run_id
        self.epoch = epoch  # what the attempt expected
        self.now = now  # what the row holds (None: the run is gone)
        self.owner = owner  # who holds it now, if anyone


@dataclass
class Chain:
    """Where a run's event log ends: the next append continues from here."""

    last_seq: int
    last_hash: str


def _event_rows(
    run_id: str, chain: Chain, new: Sequence[NewEvent]
) -> tuple[list[dict[str, object]], Chain]:
    rows: list[dict[str, object]] = []
    seq, prev = chain.last_seq, chain.last_hash
    for ev in new:
        seq += 1
        at = iso(ev.at)
        h = event_hash(prev, run_id, seq, ev.type, at, ev.data)
        rows.append(
            {
                "run_id": run_id,
                "seq": seq,
                "type": ev.type,
                "at": ev.at,
                "data": ev.data,
                "hash": h,
                "prev_hash": prev,
            }
        )
        prev = h
    return rows, Chain(seq, prev)


@dataclass(frozen=True)
class Move:
    """A change of a run's status, with what its ``status`` event says besides the status."""

    to: RunStatus
    data: StatusNote = field(default_factory=lambda: StatusNote())

    def event(self, at: datetime | None = None) -> NewEvent:
        """The ``status`` event that records this move (at ``at``, else now)."""
        return NewEvent("status", {"status": str(self.to), **self.data}, at or utcnow())


# What the database fills in for a new run's columns that an insert leaves out.
_NEW_RUN = {
    **{c.name: None for c in runs.columns},
    "approval": "NONE",
    "archived": False,
    "steps_finished": 0,
    "step_count": 0,
    "last_op": 0,
    "segment": 0,
    "active_seconds": 0.0,
    "epoch": 0,
}


# A new run records the tenant's policy version in force, read in the insert itself: no
# extra round trip on the hot path, and no window between reading it and inserting.
_INSERT_RUN = direct(
    runs.insert()
    .values(
        policy_version=sa.select(tenants.c.policy_version)
        .where(tenants.c.id == sa.bindparam("policy_tenant"))
        .scalar_subquery()
    )
    .returning(runs.c.policy_version)
)


async def insert_run(conn: Conn, row: Mapping[str, object]) -> RunRecord:
    """Insert a new run, queued, with its first ``status`` event; return it as stored."""
    if row["status"] != RunStatus.QUEUED:
        raise ValueError("a new run starts queued")
    first = [Move(RunStatus.QUEUED).event()]
    ev_rows, chain = _event_rows(str(row["id"]), Chain(0, GENESIS), first)
    row = {**row, "last_seq": chain.last_seq, "last_hash": chain.last_hash}
    # Parameters, not .values(): the compiled statement is cached, building it is not.
    inserted = await conn.execute(_INSERT_RUN, {**row, "policy_tenant": row["tenant_id"]})
    policy_version = inserted.scalar_one()
    if ev_rows:
        await conn.execute(_INSERT_EVENTS, ev_rows)
    return cast(RunRecord, {**_NEW_RUN, **row, "policy_version": policy_version})


# The SET clause comes from the parameters' keys, so one cached statement serves every
# combination of columns (building ``.values(...)`` per call costs more than running it).
_UPDATE_AT = runs.update().where(
    runs.c.id == sa.bindparam("w_id"), runs.c.last_seq == sa.bindparam("w_seq")
)
_BY_STATUS = runs.c.status == sa.bindparam("w_status")
_BY_EPOCH = runs.c.epoch == sa.bindparam("w_epoch")
# Keyed by (status checked, epoch checked).
_UPDATES = {
    (False, False): direct(_UPDATE_AT),
    (True, False): direct(_UPDATE_AT.where(_BY_STATUS)),
    (False, True): direct(_UPDATE_AT.where(_BY_EPOCH)),
    (True, True): direct(_UPDATE_AT.where(_BY_STATUS, _BY_EPOCH)),
}
# Every run's log grows through this one statement.
_INSERT_EVENTS = direct(events.insert())


async def move_run(
    conn: Conn,
    run_id: str,
    chain: Chain,
    current: RunStatus | str,
    *,
    before: Move | None = None,
    after: Move | None = None,
    new_events: Sequence[NewEvent] = (),
    step_rows: Sequence[Mapping[str, object]] = (),
    fields: Mapping[str, object] | None = None,
    epoch: int | None = None,
    at: datetime | None = None,
) -> Chain:
    """The one writer of a run's status: check the move, write it with its events.

    ``before`` is a move recorded before ``new_events`` (a run that starts), ``after`` one
    recorded after them (a run that pauses, resumes or ends); both, one after the other, is
    a run that starts and ends in one write. Each move goes through ``lifecycle.transition``;
    the run must still be in ``current`` and its log still end at ``chain``, else
    ``StaleRun`` is raised and nothing changes. With ``epoch`` (an attempt's write), the
    run must still hold that epoch, else ``Fenced`` is raised and nothing changes.
    The ``status`` events are dated ``at`` (now by default): the same write tried again
    makes the same log.
    """
    status = RunStatus(current)
    for move in (before, after):
        if move is not None:
            status = transition(status, move.to)
    events = logged(new_events, before=before, after=after, at=at or utcnow())
    columns = {**(fields or {}), "status": status}
    return await _write(conn, run_id, chain, events, step_rows, columns, str(current), epoch)


def logged(
    new_events: Sequence[NewEvent],
    *,
    before: Move | None = None,
    after: Move | None = None,
    at: datetime,
) -> list[NewEvent]:
    """The events a write appends: ``new_events`` between the ``status`` events of its moves."""
    head = [before.event(at)] if before is not None else []
    tail = [after.event(at)] if after is not None else []
    return [*head, *new_events, *tail]


def chain_after(run_id: str, chain: Chain, events: Sequence[NewEvent]) -> Chain:
    """Where a run's log ends once ``events`` are appended after ``chain``."""
    return _event_rows(run_id, chain, events)[1]


async def log_ends_at(conn: Conn, run_id: str, chain: Chain) -> bool:
    """Whether the run's log ends at ``chain`` (a write whose answer was lost did land)."""
    stmt = sa.select(runs.c.last_seq, runs.c.last_hash).where(runs.c.id == run_id)
    row = (await conn.execute(stmt)).first()
    return row is not None and (row[0], row[1]) == (chain.last_seq, chain.last_hash)


async def commit_changes(
    conn: Conn,
    run_id: str,
    chain: Chain,
    *,
    new_events: Sequence[NewEvent] = (),
    step_rows: Sequence[Mapping[str, object]] = (),
    fields: Mapping[str, object] | None = None,
    expect_status: str | None = None,
    epoch: int | None = None,
) -> Chain:
    """Append events, upsert steps and update the run's other columns, as one unit.

    A status is never written here (``move_run`` does that). The update only applies if
    the log still ends where ``chain`` says (and the run still has ``expect_status``);
    otherwise ``StaleRun`` is raised and nothing changes. With ``epoch``, the run must
    still hold it, else ``Fenced`` is raised and nothing changes.
    """
    if fields and "status" in fields:
        raise ValueError("a run's status is written by move_run only")
    return await _write(
        conn, run_id, chain, new_events, step_rows, fields or {}, expect_status, epoch
    )


async def _write(
    conn: Conn,
    run_id: str,
    chain: Chain,
    new_events: Sequence[NewEvent],
    step_rows: Sequence[Mapping[str, object]],
    fields: Mapping[str, object],
    expect_status: str | None,
    epoch: int | None = None,
) -> Chain:
    ev_rows, new_chain = _event_rows(run_id, chain, new_events)
    values: dict[str, object] = dict(fields)
    values["last_seq"] = new_chain.last_seq
    values["last_hash"] = new_chain.last_hash
    values["w_id"], values["w_seq"] = run_id, chain.last_seq
    if expect_status is not None:
        values["w_status"] = expect_status
    if epoch is not None:
        values["w_epoch"] = epoch
    stmt = _UPDATES[expect_status is not None, epoch is not None]
    res = await conn.execute(stmt, values)
    if res.rowcount != 1:
        if epoch is not None:
            await _refuse_if_fenced(conn, run_id, epoch)
        raise StaleRun(run_id)
    if ev_rows:
        await conn.execute(_INSERT_EVENTS, ev_rows)
    if step_rows:
        await _upsert_steps(conn, step_rows)
    return new_chain


async def _refuse_if_fenced(conn: Conn, run_id: str, epoch: int) -> None:
    """Raise ``Fenced`` if the run's epoch moved on (or the run is gone): rare, so read."""
    stmt = sa.select(runs.c.epoch, runs.c.owner).where(runs.c.id == run_id)
    row = (await conn.execute(stmt)).first()
    if row is None:
        raise Fenced(run_id, epoch, None, None)
    if int(row.epoch) != epoch:
        raise Fenced(run_id, epoch, int(row.epoch), row.owner)


async def fence_owner(conn: Conn, owner: str) -> list[str]:
    """Move on the epoch of every running run ``owner`` holds: its writes now match nothing.

    Called when ``owner`` is declared dead, before its runs are handed to live workers.
    Returns the fenced runs' ids.
    """
    stmt = (
        runs.update()
        .where(runs.c.owner == owner, runs.c.status == "running")
        .values(epoch=runs.c.epoch + 1)
        .returning(runs.c.id)
    )
    return list((await conn.execute(stmt)).scalars().all())


async def holder(conn: Conn, run_id: str) -> tuple[int, str | None] | None:
    """The run's epoch and owner now (None: no such run)."""
    stmt = sa.select(runs.c.epoch, runs.c.owner).where(runs.c.id == run_id)
    row = (await conn.execute(stmt)).first()
    return None if row is None else (int(row.epoch), row.owner)


async def _upsert_steps(conn: Conn, step_rows: Sequence[Mapping[str, object]]) -> None:
    """Upsert step rows, one statement per set of columns (executemany)."""
    merged: dict[object, dict[str, object]] = {}
    for r in step_rows:
        merged.setdefault(r["number"], {}).update(r)
    by_columns: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for r in merged.values():
        by_columns.setdefault(tuple(r), []).append(r)
    for rows in by_columns.values():
        await conn.execute(direct(upsert(conn, steps, rows, ["run_id", "number"])), rows)


_GET_RUN = direct(sa.select(runs).where(runs.c.id == sa.bindparam("run_id")))
_GET_TENANT_RUN = direct(_GET_RUN.where(runs.c.tenant_id == sa.bindparam("tenant_id")))


async def get_run(conn: Conn, tenant_id: str | None, run_id: str) -> RunRecord | None:
    """One run row, scoped to the tenant unless ``tenant_id`` is None (the engine)."""
    if tenant_id is None:
        result = await conn.execute(_GET_RUN, {"run_id": run_id})
    else:
        result = await conn.execute(_GET_TENANT_RUN, {"run_id": run_id, "tenant_id": tenant_id})
    row = result.mappings().first()
    return None if row is None else as_run(row)


def as_run(row: sa.RowMapping) -> RunRecord:
    """A row of ``runs`` as the typed record."""
    return cast(RunRecord, dict(row))


def as_step(row: sa.RowMapping) -> StepRow:
    """A row of ``steps`` as the typed record."""
    return cast(StepRow, dict(row))


def as_event(row: sa.RowMapping) -> EventRecord:
    """A row of ``events`` as the typed record."""
    return cast(EventRecord, dict(row))


def encode_token(created_at: datetime, run_id: str) -> str:
    """A continuation token for keyset paging on (created_at, id)."""
    raw = json.dumps({"c": iso(created_at), "i": run_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def page_of(
    rows: Sequence[_Row], limit: int, at: str = "created_at", key: str = "id"
) -> tuple[list[_Row], str | None]:
    """A page of rows read with one more than ``limit``: the rows, and the next token
    (cut on the ``at`` and ``key`` columns)."""
    if len(rows) <= limit:
        return list(rows), None
    last = rows[limit - 1]
    return list(rows[:limit]), encode_token(cast(datetime, last[at]), str(last[key]))


def newest_first(
    stmt: sa.Select[_Selected],
    at: sa.ColumnElement[datetime],
    key: sa.ColumnElement[str],
    after: tuple[datetime, str] | None,
    limit: int,
) -> sa.Select[_Selected]:
    """``stmt`` keyset-paged newest first on (``at``, ``key``), from after a token's
    position; ``limit + 1`` rows tell if there is more."""
    if after is not None:
        when, last = after
        stmt = stmt.where(sa.or_(at < when, sa.and_(at == when, key < last)))
    return stmt.order_by(at.desc(), key.desc()).limit(limit + 1)


def decode_token(token: str) -> tuple[datetime, str]:
    """Read a continuation token, or raise BadRequest naming it."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        return datetime.fromisoformat(data["c"].replace("Z", "+00:00")), str(data["i"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequest(
            "continuation_token is not one this server issued",
            [{"name": "continuation_token", "value": token}],
        ) from exc


async def list_runs(
    conn: Conn,
    tenant_id: str,
    *,
    filters: Mapping[str, object],
    q: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
    liveness: LivenessFilter | None = None,
) -> list[RunRecord]:
    """Runs newest first, keyset-paged; ``limit + 1`` rows tell if there is more."""
    stmt = sa.select(runs).where(runs.c.tenant_id == tenant_id)
    for name, value in filters.items():
        stmt = stmt.where(runs.c[name] == value)
    if liveness is not None:
        stmt = stmt.where(has_liveness(conn, liveness))
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(runs.c.name.ilike(f"%{escaped}%", escape="\\"))
    stmt = newest_first(stmt, runs.c.created_at, runs.c.id, after, limit)
    return [as_run(r) for r in (await conn.execute(stmt)).mappings().all()]


async def list_steps(conn: Conn, run_id: str) -> list[StepRow]:
    """A run's steps in order."""
    stmt = sa.select(steps).where(steps.c.run_id == run_id).order_by(steps.c.number)
    return [as_step(r) for r in (await conn.execute(stmt)).mappings().all()]


async def list_steps_of(conn: Conn, run_ids: Sequence[str]) -> list[StepRow]:
    """The steps of several runs, in order of run, then number."""
    if not run_ids:
        return []
    stmt = (
        sa.select(steps).where(steps.c.run_id.in_(run_ids)).order_by(steps.c.run_id, steps.c.number)
    )
    return [as_step(r) for r in (await conn.execute(stmt)).mappings().all()]


async def list_events(
    conn: Conn, run_id: str, after: int = 0, limit: int | None = None
) -> list[EventRecord]:
    """A run's events with seq greater than ``after``, in order."""
    stmt = (
        sa.select(events)
        .where(events.c.run_id == run_id, events.c.seq > after)
        .order_by(events.c.seq)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [as_event(r) for r in (await conn.execute(stmt)).mappings().all()]


async def events_of_types(
    conn: Conn, tenant_id: str, run_id: str, types: Sequence[str]
) -> list[EventRecord]:
    """The tenant's run's events of these types, in order (one query; none if not its run)."""
    stmt = (
        sa.select(events)
        .join(runs, runs.c.id == events.c.run_id)
        .where(runs.c.tenant_id == tenant_id, events.c.run_id == run_id, events.c.type.in_(types))
        .order_by(events.c.seq)
    )
    return [as_event(r) for r in (await conn.execute(stmt)).mappings().all()]


async def update_run(conn: Conn, run_id: str, **values: object) -> None:
    """Change columns of a run that are not its status or log (archive, cancel request)."""
    if "status" in values or "last_seq" in values:
        raise ValueError("a run's status and log are written by move_run only")
    await conn.execute(runs.update().where(runs.c.id == run_id).values(**values))


async def delete_run(conn: Conn, run_id: str) -> None:
    """Remove a run with its steps and events, but its model calls' steps (name, model,
    tokens, credits), whose output and error go: usage totals and budgets still count them."""
    await conn.execute(events.delete().where(events.c.run_id == run_id))
    metered = steps.c.input_tokens.is_not(None)
    await conn.execute(
        steps.update().where(steps.c.run_id == run_id, metered).values(output=None, error=None)
    )
    await conn.execute(steps.delete().where(steps.c.run_id == run_id, sa.not_(metered)))
    await conn.execute(idempotency_keys.delete().where(idempotency_keys.c.run_id == run_id))
    await conn.execute(approvals.delete().where(approvals.c.run_id == run_id))
    await conn.execute(stream_parts.delete().where(stream_parts.c.run_id == run_id))
    await conn.execute(runs.delete().where(runs.c.id == run_id))


async def clear_step_outputs(conn: Conn, run_id: str) -> None:
    """Remove the content of a run's step outputs (retention); the steps stay."""
    await conn.execute(steps.update().where(steps.c.run_id == run_id).values(output=None))


async def copy_steps(conn: Conn, source_run: str, target_run: str, before: int) -> int:
    """Copy completed steps numbered below ``before`` into a new run as ``reused``."""
    rows = [
        r
        for r in await list_steps(conn, source_run)
        if r["number"] < before and r["status"] in ("completed", "reused")
    ]
    if rows:
        await conn.execute(
            steps.insert(),
            [
                {
                    "run_id": target_run,
                    "number": r["number"],
                    "name": r["name"],
                    "status": "reused",
                    "output": r["output"],
                    "reused_from": r["reused_from"] or source_run,
                    "model": r["model"],
                }
                for r in rows
            ],
        )
    return len(rows)


async def find_idempotent(conn: Conn, tenant_id: str, key: str) -> IdempotencyRecord | None:
    """The run an Idempotency-Key already created, if any."""
    stmt = sa.select(idempotency_keys).where(
        idempotency_keys.c.tenant_id == tenant_id, idempotency_keys.c.key == key
    )
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else cast(IdempotencyRecord, dict(row))


async def remember_idempotent(
    conn: Conn, tenant_id: str, key: str, request_hash: str, run_id: str, at: datetime
) -> bool:
    """Record which run an Idempotency-Key creates; ``False`` if another request has it.

    On Postgres a concurrent transaction that holds the key makes this wait for its end.
    """
    res = await conn.execute(
        insert_if_absent(conn, idempotency_keys).values(
            tenant_id=tenant_id, key=key, request_hash=request_hash, run_id=run_id, created_at=at
        )
    )
    return res.rowcount == 1


async def cancel_requested(conn: Conn, run_ids: Sequence[str]) -> list[str]:
    """Of the given runs, the ids of those with a cancel request (for a worker's cancel poll)."""
    if not run_ids:
        return []
    stmt = sa.select(runs.c.id).where(
        runs.c.id.in_(list(run_ids)), runs.c.cancel_requested_at.is_not(None)
    )
    return list((await conn.execute(stmt)).scalars().all())


async def waiting_for_connection(
    conn: Conn, tenant_id: str, user_id: str, integration: str
) -> list[RunRecord]:
    """The tenant's runs in ``auth_required`` for this user's integration."""
    stmt = sa.select(runs).where(
        runs.c.tenant_id == tenant_id,
        runs.c.status == "auth_required",
        runs.c.user_id == user_id,
    )
    found = [as_run(r) for r in (await conn.execute(stmt)).mappings().all()]
    return [r for r in found if (r["waiting_on"] or {}).get("integration") == integration]


@dataclass(frozen=True)
class ActiveRun:
    """A run that should have a live workflow: queued (handed to the engine) or running."""

    id: str
    tenant_id: str
    status: str
    segment: int
    updated_at: datetime


async def active_before(
    conn: Conn, before: datetime, after: tuple[datetime, str] | None, limit: int
) -> list[ActiveRun]:
    """Admitted runs, queued or running, unchanged since ``before``; oldest change first.

    ``after`` continues a walk where the last page ended (keyset on updated_at, id).
    """
    stmt = sa.select(runs.c.id, runs.c.tenant_id, runs.c.status, runs.c.segment, runs.c.updated_at)
    stmt = stmt.where(
        runs.c.updated_at < before,
        sa.or_(
            runs.c.status == "running",
            sa.and_(runs.c.status == "queued", runs.c.admitted_at < before),
        ),
    )
    if after is not None:
        at, run_id = after
        stmt = stmt.where(
            sa.or_(runs.c.updated_at > at, sa.and_(runs.c.updated_at == at, runs.c.id > run_id))
        )
    stmt = stmt.order_by(runs.c.updated_at, runs.c.id).limit(limit)
    return [ActiveRun(*row) for row in (await conn.execute(stmt)).all()]


async def count_events(conn: Conn, run_id: str, type_: str) -> int:
    """How many events of one type the run's log holds."""
    stmt = sa.select(sa.func.count()).where(events.c.run_id == run_id, events.c.type == type_)
    return int((await conn.execute(stmt)).scalar_one())


async def children_of(
    conn: Conn, tenant_id: str, run_id: str, *, active: bool = False
) -> list[RunRecord]:
    """The runs ``run_id`` started (``ctx.run_agent``), oldest first; only unended ones if ``active``."""
    stmt = sa.select(runs).where(runs.c.tenant_id == tenant_id, runs.c.parent_run_id == run_id)
    if active:
        stmt = stmt.where(runs.c.status.not_in([str(s) for s in TERMINAL]))
    stmt = stmt.order_by(runs.c.created_at, runs.c.id)
    return [as_run(r) for r in (await conn.execute(stmt)).mappings().all()]


async def waiting_for_children(conn: Conn, limit: int = 500) -> list[RunRecord]:
    """Paused runs (every tenant) that wait for a child run's end (``waiting_on.child_run_id``)."""
    stmt = sa.select(runs).where(runs.c.status == str(RunStatus.PAUSED)).limit(limit)
    found = [as_run(r) for r in (await conn.execute(stmt)).mappings().all()]
    return [r for r in found if (r["waiting_on"] or {}).get("child_run_id")]
