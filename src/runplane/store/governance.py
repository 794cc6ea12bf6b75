"""Governance rows: the tenant's policy versions (version 1 is the built-in default)."""

from datetime import datetime, timedelta
from typing import TypedDict, cast

import sqlalchemy as sa

from runplane.domain.json import JSONObject
from runplane.store.db import Conn
from runplane.store.dialect import insert_if_absent
from runplane.store.schema import audit_events, governance_policies, retention_sweeps, tenants


class PolicyRow(TypedDict):
    """A row of ``governance_policies``: one stored version of a tenant's policy."""

    tenant_id: str
    version: int
    document: JSONObject
    comment: str | None
    created_at: datetime
    created_by_key_id: str | None


async def current_version(conn: Conn, tenant_id: str) -> int:
    """The version of the tenant's policy in force now."""
    stmt = sa.select(tenants.c.policy_version).where(tenants.c.id == tenant_id)
    return int((await conn.execute(stmt)).scalar_one())


async def get_policy(conn: Conn, tenant_id: str, version: int) -> JSONObject | None:
    """The stored document of one version; None for the default (version 1, never stored)
    or a version that does not exist."""
    stmt = sa.select(governance_policies.c.document).where(
        governance_policies.c.tenant_id == tenant_id, governance_policies.c.version == version
    )
    found = (await conn.execute(stmt)).scalar_one_or_none()
    return cast(JSONObject | None, found)


async def insert_policy(
    conn: Conn,
    tenant_id: str,
    version: int,
    document: JSONObject,
    comment: str | None,
    at: datetime,
    key_id: str | None,
) -> None:
    """Store a new version and make it the tenant's current one, in the caller's transaction."""
    await conn.execute(
        governance_policies.insert().values(
            tenant_id=tenant_id,
            version=version,
            document=document,
            comment=comment,
            created_at=at,
            created_by_key_id=key_id,
        )
    )
    await conn.execute(
        tenants.update().where(tenants.c.id == tenant_id).values(policy_version=version)
    )


async def get_version(conn: Conn, tenant_id: str, version: int) -> PolicyRow | None:
    """One stored version with who made it, when and why; None if not stored."""
    stmt = sa.select(governance_policies).where(
        governance_policies.c.tenant_id == tenant_id, governance_policies.c.version == version
    )
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else cast(PolicyRow, dict(row))


async def list_versions(
    conn: Conn, tenant_id: str, *, limit: int, before: int | None
) -> list[PolicyRow]:
    """Stored versions newest first, below ``before`` if given; ``limit + 1`` tell if more."""
    stmt = sa.select(governance_policies).where(governance_policies.c.tenant_id == tenant_id)
    if before is not None:
        stmt = stmt.where(governance_policies.c.version < before)
    stmt = stmt.order_by(governance_policies.c.version.desc()).limit(limit + 1)
    return [cast(PolicyRow, dict(r)) for r in (await conn.execute(stmt)).mappings().all()]


async def tenant_created_at(conn: Conn, tenant_id: str) -> datetime:
    """When the tenant was made: the time of its default policy, version 1."""
    stmt = sa.select(tenants.c.created_at).where(tenants.c.id == tenant_id)
    return cast(datetime, (await conn.execute(stmt)).scalar_one())


async def claim_sweep(conn: Conn, name: str, owner: str, now: datetime, every: timedelta) -> bool:
    """Whether this process sweeps now: it moved the claim's time, which was ``every`` ago."""
    await conn.execute(
        insert_if_absent(conn, retention_sweeps).values(
            name=name, started_at=now - every - every, owner=None
        )
    )
    res = await conn.execute(
        retention_sweeps.update()
        .where(retention_sweeps.c.name == name, retention_sweeps.c.started_at <= now - every)
        .values(started_at=now, owner=owner)
    )
    return bool(res.rowcount)


async def tenants_with_policies(conn: Conn) -> list[tuple[str, int]]:
    """The tenants whose policy in force is not the default (the default keeps everything)."""
    stmt = sa.select(tenants.c.id, tenants.c.policy_version).where(tenants.c.policy_version > 1)
    return [(str(r[0]), int(r[1])) for r in (await conn.execute(stmt)).all()]


async def delete_activity_before(conn: Conn, tenant_id: str, cutoff: datetime, limit: int) -> int:
    """Remove up to ``limit`` of the tenant's activity rows older than ``cutoff``, oldest first."""
    oldest = (
        sa.select(audit_events.c.id)
        .where(audit_events.c.tenant_id == tenant_id, audit_events.c.at < cutoff)
        .order_by(audit_events.c.at)
        .limit(limit)
    )
    ids = [r[0] for r in (await conn.execute(oldest)).all()]
    if ids:
        await conn.execute(
            audit_events.delete().where(
                audit_events.c.tenant_id == tenant_id, audit_events.c.id.in_(ids)
            )
        )
    return len(ids)
