"""The activity log's writing side: every change, recorded with it, saying who made it.

This module imports no runtime, so that any service can record (reading: ``activity.py``).
"""

from dataclasses import replace

from runplane.domain.ids import new_id
from runplane.domain.json import JSONObject
from runplane.domain.models import AuditEventRecord, Principal, utcnow
from runplane.store import audit as store
from runplane.store.db import Conn

SYSTEM_ACTOR = "system"


def system(tenant_id: str) -> Principal:
    """The server itself acting for a tenant (expiries, sweeps, the reconciler)."""
    return Principal(tenant_id=tenant_id, key_id=SYSTEM_ACTOR, role="system", via="system")


def by_link(tenant_id: str, approval_id: str) -> Principal:
    """Whoever holds an approval's link: the link, not a key, is what let them act."""
    return Principal(tenant_id=tenant_id, key_id=f"link:{approval_id}", role="link", via="link")


def acting_via(who: Principal, via: str) -> Principal:
    """The same principal, acting through another surface (the console, an agent …)."""
    return who if who.via == via else replace(who, via=via)


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
