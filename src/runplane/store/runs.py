"""Runs, their steps and their events: rows in, rows out."""

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

import sqlalchemy as sa

from runplane.domain.errors import BadRequest
from runplane.domain.events import GENESIS, StatusNote, event_hash
from runplane.domain.lifecycle import RunStatus, transition
from runplane.domain.models import (
    EventRecord,
    IdempotencyRecord,
    NewEvent,
    RunRecord,
    StepRow,
    iso,
    utcnow,
)
from runplane.store.db import Conn
from runplane.store.dialect import upsert
from runplane.store.schema import approvals, events, idempotency_keys, runs, steps


class StaleRun(Exception):  # noqa: N818 - a retry signal inside the engine
    """The run changed under a writer (another writer appended or moved it)."""


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

    def event(self) -> NewEvent:
        """The ``status`` event that records this move."""
        return NewEvent("status", {"status": str(self.to), **self.data}, utcnow())


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
}


async def insert_run(conn: Conn, row: Mapping[str, object]) -> RunRecord:
    """Insert a new run, queued, with its first ``status`` event; return it as stored."""
    if row["status"] != RunStatus.QUEUED:
        raise ValueError("a new run starts queued")
    first = [Move(RunStatus.QUEUED).event()]
    ev_rows, chain = _event_rows(str(row["id"]), Chain(0, GENESIS), first)
    row = {**row, "last_seq": chain.last_seq, "last_hash": chain.last_hash}
    # Parameters, not .values(): the compiled statement is cached, building it is not.
    await conn.execute(runs.insert(), row)
    if ev_rows:
        await conn.execute(events.insert(), ev_rows)
    return cast(RunRecord, {**_NEW_RUN, **row})


# The SET clause comes from the parameters' keys, so one cached statement serves every
# combination of columns (building ``.values(...)`` per call costs more than running it).
_UPDATE_AT = runs.update().where(
    runs.c.id == sa.bindparam("w_id"), runs.c.last_seq == sa.bindparam("w_seq")
)
_UPDATE_AT_STATUS = _UPDATE_AT.where(runs.c.status == sa.bindparam("w_status"))


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
) -> Chain:
    """The one writer of a run's status: check the move, write it with its events.

    ``before`` is a move recorded before ``new_events`` (a run that starts), ``after`` one
    recorded after them (a run that pauses, resumes or ends); both, one after the other, is
    a run that starts and ends in one write. Each move goes through ``lifecycle.transition``;
    the run must still be in ``current`` and its log still end at ``chain``, else
    ``StaleRun`` is raised and nothing changes.
    """
    status = RunStatus(current)
    events: list[NewEvent] = []
    for move in (before, after):
        if move is None:
            continue
        status = transition(status, move.to)
        events.append(move.event())
    if before is not None:
        events = [events[0], *new_events, *events[1:]]
    else:
        events = [*new_events, *events]
    columns = {**(fields or {}), "status": status}
    return await _write(conn, run_id, chain, events, step_rows, columns, str(current))


async def commit_changes(
    conn: Conn,
    run_id: str,
    chain: Chain,
    *,
    new_events: Sequence[NewEvent] = (),
    step_rows: Sequence[Mapping[str, object]] = (),
    fields: Mapping[str, object] | None = None,
    expect_status: str | None = None,
) -> Chain:
    """Append events, upsert steps and update the run's other columns, as one unit.

    A status is never written here (``move_run`` does that). The update only applies if
    the log still ends where ``chain`` says (and the run still has ``expect_status``);
    otherwise ``StaleRun`` is raised and nothing changes.
    """
    if fields and "status" in fields:
        raise ValueError("a run's status is written by move_run only")
    return await _write(conn, run_id, chain, new_events, step_rows, fields or {}, expect_status)


async def _write(
    conn: Conn,
    run_id: str,
    chain: Chain,
    new_events: Sequence[NewEvent],
    step_rows: Sequence[Mapping[str, object]],
    fields: Mapping[str, object],
    expect_status: str | None,
) -> Chain:
    ev_rows, new_chain = _event_rows(run_id, chain, new_events)
    values: dict[str, object] = dict(fields)
    values["last_seq"] = new_chain.last_seq
    values["last_hash"] = new_chain.last_hash
    values["w_id"], values["w_seq"] = run_id, chain.last_seq
    stmt = _UPDATE_AT
    if expect_status is not None:
        stmt, values["w_status"] = _UPDATE_AT_STATUS, expect_status
    res = await conn.execute(stmt, values)
    if res.rowcount != 1:
        raise StaleRun(run_id)
    if ev_rows:
        await conn.execute(events.insert(), ev_rows)
    if step_rows:
        await _upsert_steps(conn, step_rows)
    return new_chain


async def _upsert_steps(conn: Conn, step_rows: Sequence[Mapping[str, object]]) -> None:
    """Upsert step rows, one statement per set of columns (executemany)."""
    merged: dict[object, dict[str, object]] = {}
    for r in step_rows:
        merged.setdefault(r["number"], {}).update(r)
    by_columns: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for r in merged.values():
        by_columns.setdefault(tuple(r), []).append(r)
    for rows in by_columns.values():
        await conn.execute(upsert(conn, steps, rows, ["run_id", "number"]), rows)


async def get_run(conn: Conn, tenant_id: str | None, run_id: str) -> RunRecord | None:
    """One run row, scoped to the tenant unless ``tenant_id`` is None (the engine)."""
    q = sa.select(runs).where(runs.c.id == run_id)
    if tenant_id is not None:
        q = q.where(runs.c.tenant_id == tenant_id)
    row = (await conn.execute(q)).mappings().first()
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
) -> list[RunRecord]:
    """Runs newest first, keyset-paged; ``limit + 1`` rows tell if there is more."""
    stmt = sa.select(runs).where(runs.c.tenant_id == tenant_id)
    for name, value in filters.items():
        stmt = stmt.where(runs.c[name] == value)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(runs.c.name.ilike(f"%{escaped}%", escape="\\"))
    if after is not None:
        created, rid = after
        stmt = stmt.where(
            sa.or_(
                runs.c.created_at < created,
                sa.and_(runs.c.created_at == created, runs.c.id < rid),
            )
        )
    stmt = stmt.order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(limit + 1)
    return [as_run(r) for r in (await conn.execute(stmt)).mappings().all()]


async def list_steps(conn: Conn, run_id: str) -> list[StepRow]:
    """A run's steps in order."""
    stmt = sa.select(steps).where(steps.c.run_id == run_id).order_by(steps.c.number)
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


async def update_run(conn: Conn, run_id: str, **values: object) -> None:
    """Change columns of a run that are not its status or log (archive, cancel request)."""
    if "status" in values or "last_seq" in values:
        raise ValueError("a run's status and log are written by move_run only")
    await conn.execute(runs.update().where(runs.c.id == run_id).values(**values))


async def delete_run(conn: Conn, run_id: str) -> None:
    """Remove a run with its steps and events."""
    await conn.execute(events.delete().where(events.c.run_id == run_id))
    await conn.execute(steps.delete().where(steps.c.run_id == run_id))
    await conn.execute(idempotency_keys.delete().where(idempotency_keys.c.run_id == run_id))
    await conn.execute(approvals.delete().where(approvals.c.run_id == run_id))
    await conn.execute(runs.delete().where(runs.c.id == run_id))


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
) -> None:
    """Record which run an Idempotency-Key created."""
    await conn.execute(
        idempotency_keys.insert().values(
            tenant_id=tenant_id, key=key, request_hash=request_hash, run_id=run_id, created_at=at
        )
    )


async def cancel_requested(conn: Conn, run_ids: Sequence[str]) -> list[str]:
    """Of the given runs, the ids of those with a cancel request (for a worker's cancel poll)."""
    if not run_ids:
        return []
    stmt = sa.select(runs.c.id).where(
        runs.c.id.in_(list(run_ids)), runs.c.cancel_requested_at.is_not(None)
    )
    return list((await conn.execute(stmt)).scalars().all())


async def queued_before(conn: Conn, before: datetime, limit: int = 100) -> list[str]:
    """Ids of runs still queued that were created before ``before``."""
    stmt = (
        sa.select(runs.c.id)
        .where(runs.c.status == "queued", runs.c.created_at < before)
        .limit(limit)
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


async def resumed_before(conn: Conn, before: datetime, limit: int = 100) -> list[tuple[str, int]]:
    """Resumed runs still ``running`` that have not moved since ``before``: (id, segment)."""
    stmt = (
        sa.select(runs.c.id, runs.c.segment)
        .where(runs.c.status == "running", runs.c.segment > 0, runs.c.updated_at < before)
        .limit(limit)
    )
    return [(str(r.id), int(r.segment)) for r in (await conn.execute(stmt)).all()]
