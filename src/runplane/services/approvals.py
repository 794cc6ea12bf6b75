"""Approvals: listing them, and deciding by id, by signed link, or by expiry."""

from runplane.domain.errors import Conflict, Invalid, NotFound
from runplane.domain.events import ApprovalResolvedData, CancelReceipt
from runplane.domain.json import JSONObject
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import ApprovalRecord, NewEvent, Principal, iso, utcnow
from runplane.schemas import ApprovalDecision
from runplane.services.crypto import token_hash
from runplane.services.runtime import Runtime
from runplane.store import approvals as store
from runplane.store import runs as runs_store
from runplane.store.db import Conn
from runplane.store.runs import decode_token, encode_token

SYSTEM = "system:expiry"


async def list_approvals(
    rt: Runtime,
    who: Principal,
    *,
    run_id: str | None,
    status: str | None,
    limit: int,
    continuation_token: str | None,
) -> tuple[list[ApprovalRecord], str | None]:
    """A page of the tenant's approvals, newest first."""
    if status and status not in ("pending", "approved", "rejected", "canceled"):
        raise Invalid.field("status", f"unknown approval status {status!r}", status)
    after = decode_token(continuation_token) if continuation_token else None
    async with rt.db.read() as conn:
        rows = await store.list_approvals(
            conn, who.tenant_id, run_id=run_id, status=status, limit=limit, after=after
        )
    token = None
    if len(rows) > limit:
        rows = rows[:limit]
        token = encode_token(rows[-1]["created_at"], rows[-1]["id"])
    return rows, token


async def get_approval(rt: Runtime, who: Principal, approval_id: str) -> ApprovalRecord:
    """One approval of the tenant, or NotFound."""
    async with rt.db.read() as conn:
        row = await store.get_approval(conn, who.tenant_id, approval_id)
    if row is None:
        raise NotFound(
            f"no approval {approval_id!r}", [{"name": "approval_id", "value": approval_id}]
        )
    return row


async def decide(
    rt: Runtime, who: Principal, approval_id: str, body: ApprovalDecision
) -> ApprovalRecord:
    """Decide a pending approval by id; the run resumes (or, for a rejected plan, ends)."""
    approval = await get_approval(rt, who, approval_id)
    return await _decide(rt, approval, body, decided_by=f"key:{who.key_id}")


async def view_by_token(rt: Runtime, who: Principal | None, token: str) -> ApprovalRecord:
    """The approval a link names (the link is not used up by looking)."""
    return await _by_token(rt, who, token)


async def decide_by_token(
    rt: Runtime, who: Principal | None, token: str, body: ApprovalDecision
) -> ApprovalRecord:
    """Decide the approval a single-use link names; the link cannot be used again."""
    approval = await _by_token(rt, who, token)
    if approval["token_used_at"] is not None:
        raise Conflict("this approval link was already used", [{"name": "token", "value": None}])
    return await _decide(rt, approval, body, decided_by="link", token=token)


async def _by_token(rt: Runtime, who: Principal | None, token: str) -> ApprovalRecord:
    payload = rt.keys.read_link(token)
    if who is not None and who.tenant_id != payload["t"]:
        raise NotFound("no such approval", [{"name": "token", "value": None}])
    async with rt.db.read() as conn:
        approval = await store.get_approval(conn, payload["t"], payload["a"])
    if approval is None or approval["token_hash"] != token_hash(token):
        raise NotFound("no such approval", [{"name": "token", "value": None}])
    return approval


def _resolution(approval: ApprovalRecord, body: ApprovalDecision) -> tuple[str, str]:
    """(approval status, recorded decision) for a request body."""
    if approval["kind"] == "in_doubt":
        action = body.action or {"approve": "repeat", "reject": "fail"}.get(body.decision or "")
        if action is None:
            raise Invalid.field("action", "an in-doubt call needs action: repeat, skip or fail")
        return ("rejected" if action == "fail" else "approved"), action
    if body.decision is None:
        raise Invalid.field("decision", "decision must be 'approve' or 'reject'")
    if body.action is not None:
        raise Invalid.field("action", "action is only for in-doubt calls", body.action)
    return ("approved" if body.decision == "approve" else "rejected"), body.decision


async def _decide(
    rt: Runtime,
    approval: ApprovalRecord,
    body: ApprovalDecision,
    *,
    decided_by: str,
    token: str | None = None,
) -> ApprovalRecord:
    if approval["status"] != "pending":
        raise Conflict(
            f"approval {approval['id']} was already decided ({approval['status']})",
            [{"name": "status", "value": approval["status"]}],
        )
    status, decision = _resolution(approval, body)
    arguments = None
    if body.arguments is not None:
        if approval["kind"] != "tool_call" or decision != "approve":
            raise Invalid.field("arguments", "only an approved tool call takes edited arguments")
        arguments = _check_arguments(rt, approval, body.arguments)
    async with rt.db.read() as conn:
        run = await runs_store.get_run(conn, approval["tenant_id"], approval["run_id"])
    if run is None or run["status"] != RunStatus.PAUSED:
        raise Conflict(
            f"run {approval['run_id']} is not waiting for this approval",
            [{"name": "run_id", "value": approval["run_id"]}],
        )
    now = utcnow()
    values: dict[str, object] = {
        "status": status,
        "decision": decision,
        "arguments": arguments,
        "result": body.result if decision == "skip" else None,
        "comment": body.comment,
        "decided_by": decided_by,
        "decided_at": now,
    }
    if token is not None:
        values["token_used_at"] = now
    data: ApprovalResolvedData = {
        "approval_id": approval["id"],
        "kind": approval["kind"],
        "decision": decision,
        "edited_arguments": arguments,
        "comment": body.comment,
        "decided_by": decided_by,
        "decided_at": iso(now),
    }
    resolved = NewEvent("approval.resolved", data, now)

    async def record(conn: Conn) -> None:
        if not await store.resolve(conn, approval["id"], **values):
            raise Conflict(f"approval {approval['id']} was decided meanwhile")

    if approval["kind"] == "plan" and decision == "reject":
        receipt: CancelReceipt = {
            "requested_at": iso(now),
            "stopped_at": iso(now),
            "step": None,
            "children_ended": True,
            "reason": body.comment or "the plan was rejected",
        }
        await rt.worker.end_idle(run, RunStatus.CANCELED, [resolved], receipt=receipt, also=record)
    else:
        await rt.worker.resume(run, [resolved], also=record)
    async with rt.db.read() as conn:
        fresh = await store.get_approval(conn, None, approval["id"])
    assert fresh is not None
    return fresh


def _check_arguments(rt: Runtime, approval: ApprovalRecord, arguments: JSONObject) -> JSONObject:
    spec = rt.project.tools.get(approval["request"].get("tool", ""))
    if spec is None:
        raise Invalid.field("arguments", "the tool of this call is not loaded here")
    return spec.validate(arguments)


async def apply_expired(rt: Runtime) -> int:
    """Apply the default action of every approval past its expiry; return how many."""
    async with rt.db.read() as conn:
        due = await store.expired(conn, utcnow())
    for approval in due:
        action = approval["default_action"] or "reject"
        comment = "expired without a decision"
        try:
            if action == "cancel":
                await _expire_by_cancel(rt, approval)
            elif approval["kind"] == "in_doubt":
                body = ApprovalDecision(
                    action="repeat" if action == "approve" else "fail", comment=comment
                )
                await _decide(rt, approval, body, decided_by=SYSTEM)
            else:
                body = ApprovalDecision(decision=action, comment=comment)  # type: ignore[arg-type]
                await _decide(rt, approval, body, decided_by=SYSTEM)
        except (Conflict, NotFound):
            continue  # decided or ended meanwhile
    return len(due)


async def _expire_by_cancel(rt: Runtime, approval: ApprovalRecord) -> None:
    async with rt.db.read() as conn:
        run = await runs_store.get_run(conn, None, approval["run_id"])
    if run is None or run["status"] != RunStatus.PAUSED:
        return
    now = utcnow()
    resolved = NewEvent(
        "approval.resolved",
        {
            "approval_id": approval["id"],
            "kind": approval["kind"],
            "decision": "cancel",
            "comment": "expired without a decision",
            "decided_by": SYSTEM,
            "decided_at": iso(now),
        },
        now,
    )

    async def record(conn: Conn) -> None:
        if not await store.resolve(
            conn,
            approval["id"],
            status="canceled",
            decision="cancel",
            decided_by=SYSTEM,
            decided_at=now,
            comment="expired without a decision",
        ):
            raise Conflict("decided meanwhile")

    receipt: CancelReceipt = {
        "requested_at": iso(now),
        "stopped_at": iso(now),
        "step": None,
        "children_ended": True,
        "reason": "an approval expired",
    }
    await rt.worker.end_idle(run, RunStatus.CANCELED, [resolved], receipt=receipt, also=record)
