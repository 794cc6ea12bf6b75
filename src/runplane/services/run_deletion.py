"""Deleting a run when the policy permits it, leaving a tombstone; deletion requests.

A delete is checked in order (ended, role, age, holds) against the policy in force;
a refusal says why and changes nothing. With ``requires_approval`` the delete becomes a
request that another admin approves. The deletion removes the run's content and writes
its tombstone (identity, the head of its hash chain, hashes of its content, who, when,
why) in one transaction with its audit row, so that the evidence still verifies.
"""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any, cast

from runplane.domain.errors import Conflict, Forbidden, NotFound
from runplane.domain.ids import new_id
from runplane.domain.json import JSON, JSONObject
from runplane.domain.lifecycle import TERMINAL
from runplane.domain.models import Principal, RunRecord, iso, utcnow
from runplane.domain.roles import Permission
from runplane.services import audit
from runplane.services import runs as runs_svc
from runplane.services.governance_policy import policy_in_force
from runplane.services.legal_holds import held_by
from runplane.services.runtime import Runtime
from runplane.store import files as files_store
from runplane.store import runs as runs_store
from runplane.store import tombstones as store
from runplane.store.blobs import blob_key
from runplane.store.db import Conn
from runplane.store.runs import decode_token, page_of

Row = dict[str, Any]
_ENDED = {str(s) for s in TERMINAL}


def content_hash(value: JSON) -> str | None:
    """The sha256 of a JSON value in its canonical form (None: no value)."""
    if value is None:
        return None
    body = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


async def _hashes(conn: Conn, run: RunRecord) -> tuple[JSONObject, list[str]]:
    """Hashes of a run's content and its counts; and the sha256 of its files' blobs."""
    step_rows = await runs_store.list_steps(conn, run["id"])
    files = await files_store.of_runs(conn, run["tenant_id"], [run["id"]])
    earlier: JSONObject = dict(run.get("redacted") or {})
    hashes: JSONObject = {
        "input": content_hash(run["input"]),
        "result": content_hash(cast(JSON, run["result"])),
        "steps": {str(s["number"]): content_hash(s["output"]) for s in step_rows},
        "files": {f["id"]: f["sha256"] for f in files},
        # What the retention sweep removed earlier was hashed when it was removed.
        "redacted": earlier,
        "counts": {
            "events": run["last_seq"],
            "steps": len(step_rows),
            "input_tokens": sum(s["input_tokens"] or 0 for s in step_rows),
            "output_tokens": sum(s["output_tokens"] or 0 for s in step_rows),
            "credits": run["credits_actual"],
        },
    }
    return hashes, [f["sha256"] for f in files]


async def erase_run(
    conn: Conn, run: RunRecord, deleted_by: str, reason: str, at: datetime
) -> tuple[Row, list[str]]:
    """Remove a run's content and write its tombstone, in the caller's transaction.

    Returns the tombstone and the sha256 of blobs that may now be unused (the caller
    removes them after the commit, as a file's delete does).
    """
    hashes, shas = await _hashes(conn, run)
    tomb: Row = {
        "run_id": run["id"],
        "tenant_id": run["tenant_id"],
        "agent_id": run["agent_id"],
        "agent_name": run["agent_name"],
        "revision_id": run["revision_id"],
        "status": run["status"],
        "created_at": run["created_at"],
        "finished_at": run["finished_at"],
        "policy_version": run.get("policy_version"),
        "last_seq": run["last_seq"],
        "last_hash": run["last_hash"],
        "hashes": hashes,
        "deleted_at": at,
        "deleted_by": deleted_by,
        "reason": reason,
    }
    await store.insert(conn, tomb)
    await files_store.delete_of_run(conn, run["tenant_id"], run["id"])
    await runs_store.delete_run(conn, run["id"])
    return tomb, shas


async def drop_unused_blobs(rt: Runtime, tenant_id: str, shas: list[str]) -> None:
    """Remove the blobs no file of the tenant uses any more (after the deletion's commit)."""
    for sha in set(shas):
        async with rt.db.read() as conn:
            used = await files_store.sha_in_use(conn, tenant_id, sha)
        if not used:
            await rt.blobs.delete(blob_key(tenant_id, sha))


def _audited(tomb: Row) -> JSONObject:
    return {
        "reason": tomb["reason"],
        "tombstone": {
            k: iso(v) if isinstance(v, datetime) else v for k, v in tomb.items() if k != "tenant_id"
        },
    }


async def _check(conn: Conn, who: Principal, run: RunRecord, now: datetime) -> bool:
    """Refuse a delete the policy in force does not permit; True if it needs approval."""
    if run["status"] not in _ENDED:
        raise Conflict(
            f"run {run['id']} is {run['status']}: cancel it first; only ended runs can be deleted",
            [{"name": "status", "value": run["status"]}],
        )
    version, policy = await policy_in_force(conn, who.tenant_id)
    rules = policy.deletion
    if who.role not in rules.roles:
        raise Forbidden(
            f"policy version {version} lets {', '.join(rules.roles)} keys delete runs,"
            f" not a {who.role} key",
            [{"name": "policy_version", "value": version}, {"name": "role", "value": who.role}],
        )
    age = now - run["created_at"]
    if age < timedelta(days=rules.min_age_days):
        days = round(age.total_seconds() / 86400, 2)
        raise Conflict(
            f"run {run['id']} is {days} days old; policy version {version} deletes runs from"
            f" {rules.min_age_days} days",
            [
                {"name": "age_days", "value": days},
                {"name": "min_age_days", "value": rules.min_age_days},
                {"name": "policy_version", "value": version},
            ],
        )
    holds = await held_by(conn, who.tenant_id, run)
    if holds:
        said = "; ".join(f"{h.id} ({h.reason})" for h in holds)
        raise Conflict(
            f"run {run['id']} is on legal hold: {said}",
            [{"name": "hold", "value": {"id": h.id, "reason": h.reason}} for h in holds],
        )
    return rules.requires_approval


async def delete_run(rt: Runtime, who: Principal, run_id: str, reason: str | None) -> Row | None:
    """Delete a run if the policy permits it (None), or file a deletion request (returned)."""
    await runs_svc.get_run(rt, who, run_id)
    reason = (reason or "").strip() or "deleted on request"
    now = utcnow()
    async with rt.db.write() as conn:
        run = await runs_store.get_run(conn, who.tenant_id, run_id)
        if run is None:  # deleted meanwhile
            raise NotFound(f"no run {run_id!r}", [{"name": "run_id", "value": run_id}])
        if await _check(conn, who, run, now):
            return await _request(conn, who, run_id, reason, now)
        tomb, shas = await erase_run(conn, run, who.key_id, reason, now)
        await audit.record(conn, who, "run.deleted", "run", run_id, _audited(tomb))
    await drop_unused_blobs(rt, who.tenant_id, shas)
    return None


async def _request(conn: Conn, who: Principal, run_id: str, reason: str, now: datetime) -> Row:
    waiting = await store.pending_request_for(conn, who.tenant_id, run_id)
    if waiting is not None:
        raise Conflict(
            f"run {run_id} already has a deletion request waiting: {waiting['id']}",
            [{"name": "deletion_request", "value": waiting["id"]}],
        )
    row: Row = {
        "id": new_id("del"),
        "tenant_id": who.tenant_id,
        "run_id": run_id,
        "reason": reason,
        "status": "pending",
        "requested_at": now,
        "requested_by_key_id": who.key_id,
        "decided_at": None,
        "decided_by_key_id": None,
        "comment": None,
    }
    await store.insert_request(conn, row)
    await audit.record(
        conn, who, "deletion.requested", "run", run_id, {"request": row["id"], "reason": reason}
    )
    return row


async def decide(
    rt: Runtime, who: Principal, request_id: str, approve: bool, comment: str | None
) -> Row:
    """Approve (and delete) or reject a pending deletion request; not its requester's own."""
    who.require(Permission.GOVERN)
    now = utcnow()
    shas: list[str] = []
    async with rt.db.write() as conn:
        row = await store.get_request(conn, who.tenant_id, request_id)
        if row is None:
            raise NotFound(
                f"no deletion request {request_id!r}", [{"name": "request_id", "value": request_id}]
            )
        if row["status"] != "pending":
            raise Conflict(
                f"deletion request {request_id} was {row['status']} already",
                [{"name": "status", "value": row["status"]}],
            )
        if row["requested_by_key_id"] == who.key_id:
            raise Forbidden(
                "the key that asked for a deletion may not decide it: another admin must",
                [{"name": "request_id", "value": request_id}],
            )
        status = "approved" if approve else "rejected"
        if approve:
            run = await runs_store.get_run(conn, who.tenant_id, row["run_id"])
            if run is None:
                raise Conflict(
                    f"run {row['run_id']} is gone", [{"name": "run_id", "value": row["run_id"]}]
                )
            # Held since it was asked (or the policy changed): refused, the request waits.
            await _check(conn, who, run, now)
            tomb, shas = await erase_run(
                conn, run, row["requested_by_key_id"] or "", row["reason"], now
            )
            await audit.record(conn, who, "run.deleted", "run", run["id"], _audited(tomb))
        await store.decide_request(
            conn, who.tenant_id, request_id, status, now, who.key_id, comment
        )
        await audit.record(
            conn,
            who,
            f"deletion.{status}",
            "run",
            row["run_id"],
            {"request": request_id, "comment": comment},
        )
    await drop_unused_blobs(rt, who.tenant_id, shas)
    return {
        **row,
        "status": status,
        "decided_at": now,
        "decided_by_key_id": who.key_id,
        "comment": comment,
    }


async def list_requests(
    rt: Runtime, who: Principal, status: str | None, limit: int, token: str | None
) -> tuple[list[Row], str | None]:
    """A page of deletion requests, newest first."""
    who.require(Permission.GOVERN)
    after = decode_token(token) if token else None
    async with rt.db.read() as conn:
        rows = await store.list_requests(
            conn, who.tenant_id, status=status, limit=limit, after=after
        )
    return page_of(rows, limit, at="requested_at")


async def list_tombstones(
    rt: Runtime, who: Principal, limit: int, token: str | None
) -> tuple[list[Row], str | None]:
    """A page of the tenant's tombstones, most recently deleted first."""
    who.require(Permission.READ)
    after = decode_token(token) if token else None
    async with rt.db.read() as conn:
        rows = await store.list_page(conn, who.tenant_id, limit=limit, after=after)
    return page_of(rows, limit, at="deleted_at", key="run_id")
