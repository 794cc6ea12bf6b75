"""Approvals: listing them, and deciding by id, by signed link, or by expiry.

Only keys allowed to decide (``domain/deciders.py``) decide, and only they are handed a
pending approval's link; a link can be revoked or replaced, and a decision records who
made it and how (``decided_by_key_id``, ``decided_via``: api, console or link).
"""

from datetime import UTC, datetime
from typing import Literal

from runplane.domain.deciders import may_decide, require_decider
from runplane.domain.errors import Conflict, Gone, Invalid, NotFound
from runplane.domain.events import ApprovalResolvedData, CancelReceipt
from runplane.domain.json import JSONObject
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import ApprovalRecord, NewEvent, Principal, RunRecord, iso, utcnow
from runplane.schemas import ApprovalDecision
from runplane.services import audit
from runplane.services.crypto import token_hash
from runplane.services.hooks import approval_link, live_token
from runplane.services.runtime import Runtime
from runplane.store import approvals as store
from runplane.store import runs as runs_store
from runplane.store.db import Conn
from runplane.store.runs import decode_token, page_of

SYSTEM = "system:expiry"
Via = Literal["api", "console"]


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
    return page_of(rows, limit)


async def get_approval(rt: Runtime, who: Principal, approval_id: str) -> ApprovalRecord:
    """One approval of the tenant, or NotFound."""
    async with rt.db.read() as conn:
        row = await store.get_approval(conn, who.tenant_id, approval_id)
    if row is None:
        raise NotFound(
            f"no approval {approval_id!r}", [{"name": "approval_id", "value": approval_id}]
        )
    return row


async def links_for(rt: Runtime, who: Principal, approvals: list[ApprovalRecord]) -> dict[str, str]:
    """The live links of the approvals this key may decide, by approval id (none for others)."""
    tokens = await tokens_for(rt, who, approvals)
    return {a: approval_link(rt.settings.base_url, t) for a, t in tokens.items()}


async def tokens_for(
    rt: Runtime, who: Principal, approvals: list[ApprovalRecord]
) -> dict[str, str]:
    """The live link tokens of the approvals this key may decide, by approval id.

    For surfaces that put the token in a link of their own (a dialect's approval URL).
    """
    tokens: dict[str, str] = {}
    runs: dict[str, RunRecord | None] = {}
    for approval in approvals:
        token = live_token(rt.keys, approval)
        if token is None:
            continue
        if approval["run_id"] not in runs:
            runs[approval["run_id"]] = await _run_of(rt, approval)
        run = runs[approval["run_id"]]
        if run is not None and may_decide(who, run, allow_self=rt.settings.allow_self_approval):
            tokens[approval["id"]] = token
    return tokens


async def decide(
    rt: Runtime, who: Principal, approval_id: str, body: ApprovalDecision, *, via: Via = "api"
) -> ApprovalRecord:
    """Decide a pending approval by id; the run resumes (or, for a rejected plan, ends)."""
    approval = await get_approval(rt, who, approval_id)
    await _require_decider(rt, who, approval)
    return await _decide(
        rt,
        approval,
        body,
        actor=audit.acting_via(who, via),
        decided_by=f"key:{who.key_id}",
        key_id=who.key_id,
        via=via,
    )


async def mint_link(
    rt: Runtime, who: Principal, approval_id: str
) -> tuple[ApprovalRecord, str, str, datetime]:
    """Give a pending approval a new link (the old one stops working).

    Returns the approval, the link, its token and its expiry: shown once, to the caller.
    """
    approval = await get_approval(rt, who, approval_id)
    await _require_decider(rt, who, approval)
    _require_pending(approval)
    now = utcnow()
    until = now.timestamp() + rt.settings.approval_link_ttl
    if approval["expires_at"] is not None:
        until = min(until, approval["expires_at"].timestamp())
    token = rt.keys.sign_link(approval["id"], approval["tenant_id"], until)
    values: dict[str, object] = {
        "token_hash": token_hash(token),
        "link_sealed": rt.keys.seal(token),
        "link_expires_at": datetime.fromtimestamp(until, UTC),
        "link_revoked_at": None,
    }
    fresh = await _update_pending(rt, approval, values, who, "approval.link_created")
    link = approval_link(rt.settings.base_url, token)
    return fresh, link, token, datetime.fromtimestamp(until, UTC)


async def revoke_link(rt: Runtime, who: Principal, approval_id: str) -> ApprovalRecord:
    """Revoke a pending approval's link: using it is a 410, and the approval stays pending."""
    approval = await get_approval(rt, who, approval_id)
    await _require_decider(rt, who, approval)
    _require_pending(approval)
    values: dict[str, object] = {"link_sealed": None, "link_revoked_at": utcnow()}
    return await _update_pending(rt, approval, values, who, "approval.link_revoked")


async def _run_of(rt: Runtime, approval: ApprovalRecord) -> RunRecord | None:
    async with rt.db.read() as conn:
        return await runs_store.get_run(conn, approval["tenant_id"], approval["run_id"])


async def _require_decider(rt: Runtime, who: Principal, approval: ApprovalRecord) -> None:
    run = await _run_of(rt, approval)
    if run is None:
        raise NotFound(
            f"no run {approval['run_id']!r}", [{"name": "run_id", "value": approval["run_id"]}]
        )
    require_decider(who, run, allow_self=rt.settings.allow_self_approval)


def _require_pending(approval: ApprovalRecord) -> None:
    if approval["status"] != "pending":
        raise Conflict(
            f"approval {approval['id']} was already decided ({approval['status']})",
            [{"name": "status", "value": approval["status"]}],
        )


async def _update_pending(
    rt: Runtime, approval: ApprovalRecord, values: dict[str, object], who: Principal, action: str
) -> ApprovalRecord:
    async with rt.db.write() as conn:
        if not await store.update_pending(conn, approval["id"], **values):
            raise Conflict(f"approval {approval['id']} was decided meanwhile")
        await audit.record(conn, who, action, "approval", approval["id"])
        fresh = await store.get_approval(conn, None, approval["id"])
    assert fresh is not None
    return fresh


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
    key_id = who.key_id if who is not None else None
    return await _decide(
        rt,
        approval,
        body,
        actor=audit.by_link(approval["tenant_id"], approval["id"]),
        decided_by="link",
        key_id=key_id,
        via="link",
        token=token,
    )


async def _by_token(rt: Runtime, who: Principal | None, token: str) -> ApprovalRecord:
    payload = rt.keys.read_link(token)
    if who is not None and who.tenant_id != payload["t"]:
        raise NotFound("no such approval", [{"name": "token", "value": None}])
    async with rt.db.read() as conn:
        approval = await store.get_approval(conn, payload["t"], payload["a"])
    if approval is None:
        raise NotFound("no such approval", [{"name": "token", "value": None}])
    # The signature is ours, so this link was issued for this approval: if it is not the
    # current one, it was revoked or replaced by a newer link.
    if approval["link_revoked_at"] is not None or approval["token_hash"] != token_hash(token):
        raise Gone("this approval link was revoked", [{"name": "token", "value": None}])
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
    actor: Principal,
    decided_by: str,
    key_id: str | None = None,
    via: str | None = None,
    token: str | None = None,
) -> ApprovalRecord:
    _require_pending(approval)
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
        "decided_by_key_id": key_id,
        "decided_via": via,
        "decided_at": now,
        "link_sealed": None,  # a decided approval's link is of no more use to anyone
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
        "decided_by_key_id": key_id,
        "decided_via": via,
        "decided_at": iso(now),
    }
    resolved = NewEvent("approval.resolved", data, now)
    action = "approval.expired" if actor.via == "system" else f"approval.{status}"
    noted: JSONObject = {"run_id": approval["run_id"], "kind": approval["kind"]}
    noted |= {"decision": decision, "comment": body.comment}
    if key_id is not None and actor.key_id != key_id:
        noted["key_id"] = key_id  # a signed-in caller who used a link

    async def record(conn: Conn) -> None:
        if not await store.resolve(conn, approval["id"], **values):
            raise Conflict(f"approval {approval['id']} was decided meanwhile")
        await audit.record(conn, actor, action, "approval", approval["id"], noted)

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
        system = audit.system(approval["tenant_id"])
        try:
            if action == "cancel":
                await _expire_by_cancel(rt, approval)
            elif approval["kind"] == "in_doubt":
                body = ApprovalDecision(
                    action="repeat" if action == "approve" else "fail", comment=comment
                )
                await _decide(rt, approval, body, actor=system, decided_by=SYSTEM)
            else:
                body = ApprovalDecision(decision=action, comment=comment)  # type: ignore[arg-type]
                await _decide(rt, approval, body, actor=system, decided_by=SYSTEM)
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
            link_sealed=None,
        ):
            raise Conflict("decided meanwhile")
        noted: JSONObject = {"run_id": run["id"], "kind": approval["kind"], "decision": "cancel"}
        system = audit.system(approval["tenant_id"])
        await audit.record(conn, system, "approval.expired", "approval", approval["id"], noted)

    receipt: CancelReceipt = {
        "requested_at": iso(now),
        "stopped_at": iso(now),
        "step": None,
        "children_ended": True,
        "reason": "an approval expired",
    }
    await rt.worker.end_idle(run, RunStatus.CANCELED, [resolved], receipt=receipt, also=record)
