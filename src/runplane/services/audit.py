"""The audit log: administrative changes, recorded with the change, read by admins."""

from runplane.domain.ids import new_id
from runplane.domain.json import JSONObject
from runplane.domain.models import AuditEventRecord, Principal, utcnow
from runplane.domain.roles import Permission
from runplane.services.runtime import Runtime
from runplane.store import audit as store
from runplane.store.db import Conn
from runplane.store.runs import decode_token, page_of


async def record(
    conn: Conn,
    who: Principal,
    action: str,
    target_type: str,
    target_id: str | None,
    data: JSONObject | None = None,
) -> AuditEventRecord:
    """Record that ``who`` did ``action`` to a target, in the change's own transaction."""
    row: AuditEventRecord = {
        "id": new_id("aud"),
        "tenant_id": who.tenant_id,
        "at": utcnow(),
        "actor_key_id": who.key_id,
        "actor_type": who.via,
        "actor_role": who.role,
        "actor_user_id": who.user_id,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "data": data or {},
    }
    await store.insert_event(conn, row)
    return row


async def list_events(
    rt: Runtime, who: Principal, limit: int, continuation_token: str | None
) -> tuple[list[AuditEventRecord], str | None]:
    """A page of the tenant's audit events, newest first (admin keys only)."""
    who.require(Permission.READ_AUDIT)
    after = decode_token(continuation_token) if continuation_token else None
    async with rt.db.read() as conn:
        rows = await store.list_events(conn, who.tenant_id, limit=limit, after=after)
    return page_of(rows, limit, at="at")
