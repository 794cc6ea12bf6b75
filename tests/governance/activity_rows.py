"""Shared steps of the activity tests: whose tenant a row is, and made-up rows in bulk."""

from datetime import datetime, timedelta

import httpx
import sqlalchemy as sa

from runplane.domain.ids import new_id
from runplane.domain.models import AuditEventRecord, Principal
from runplane.services.runtime import Runtime
from runplane.store import audit as audit_store
from runplane.store.schema import audit_events


async def admin_of(api: httpx.AsyncClient, rt: Runtime) -> Principal:
    """The admin principal of a client's key, found through the row of a site it makes."""
    await api.post("/v1/sites", json={"name": "first"})
    row = (await api.get("/v1/governance/activity", params={"limit": 1})).json()["items"][0]
    async with rt.db.read() as conn:
        query = sa.select(audit_events.c.tenant_id).where(audit_events.c.id == row["id"])
        tenant_id = str((await conn.execute(query)).scalar_one())
    return Principal(tenant_id=tenant_id, key_id=row["actor_key_id"], role="admin")


async def seed(rt: Runtime, who: Principal, count: int, start: datetime) -> None:
    """``count`` rows of made-up activity a second apart from ``start``, in one transaction:
    two in three ``run.created`` on runs, the rest ``file.uploaded`` on files."""
    async with rt.db.write() as conn:
        for i in range(count):
            run = i % 3 != 0
            row: AuditEventRecord = {
                "id": new_id("aud"),
                "tenant_id": who.tenant_id,
                "at": start + timedelta(seconds=i),
                "actor_key_id": who.key_id,
                "actor_type": "api",
                "actor_role": who.role,
                "actor_user_id": None,
                "action": "run.created" if run else "file.uploaded",
                "target_type": "run" if run else "file",
                "target_id": f"obj_{i:05d}",
                "data": {"n": i, "note": 'comma, "quote"\nnewline'},
            }
            await audit_store.insert_event(conn, row)
