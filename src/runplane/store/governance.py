"""Governance rows: the tenant's policy versions (version 1 is the built-in default)."""

from datetime import datetime
from typing import cast

import sqlalchemy as sa

from runplane.domain.json import JSONObject
from runplane.store.db import Conn
from runplane.store.schema import governance_policies, tenants


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
