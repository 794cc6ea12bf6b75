"""Agents and their revisions."""

from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa

from runplane.domain.models import AgentRecord, RevisionRecord
from runplane.store.db import Conn
from runplane.store.schema import agents, revisions


def as_agent(row: sa.RowMapping) -> AgentRecord:
    """A row of ``agents`` as the typed record."""
    return cast(AgentRecord, dict(row))


def as_revision(row: sa.RowMapping) -> RevisionRecord:
    """A row of ``revisions`` as the typed record."""
    return cast(RevisionRecord, dict(row))


async def find_agent(conn: Conn, tenant_id: str, ref: str) -> AgentRecord | None:
    """The tenant's agent with this id or name."""
    stmt = sa.select(agents).where(
        agents.c.tenant_id == tenant_id, sa.or_(agents.c.id == ref, agents.c.name == ref)
    )
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else as_agent(row)


async def list_agents(conn: Conn, tenant_id: str) -> list[AgentRecord]:
    """The tenant's agents by name."""
    stmt = sa.select(agents).where(agents.c.tenant_id == tenant_id).order_by(agents.c.name)
    return [as_agent(r) for r in (await conn.execute(stmt)).mappings().all()]


async def insert_agent(conn: Conn, **row: object) -> None:
    """Create an agent."""
    await conn.execute(agents.insert().values(**row))


async def update_agent(conn: Conn, agent_id: str, **values: object) -> None:
    """Change an agent's columns."""
    await conn.execute(agents.update().where(agents.c.id == agent_id).values(**values))


# Every finishing run of an agent would otherwise lock its row until commit, which
# serializes the commits of concurrent runs; a second's precision is enough here.
COMPLETION_PRECISION = timedelta(seconds=1)


async def record_completion(conn: Conn, agent_id: str, at: datetime) -> None:
    """Move the agent's ``last_completed_at`` to ``at`` if it is a second or more behind."""
    behind = sa.or_(
        agents.c.last_completed_at.is_(None),
        agents.c.last_completed_at < at - COMPLETION_PRECISION,
    )
    await conn.execute(
        agents.update().where(agents.c.id == agent_id, behind).values(last_completed_at=at)
    )


async def find_revision(conn: Conn, agent_id: str, ref: str) -> RevisionRecord | None:
    """The agent's revision with this id."""
    stmt = sa.select(revisions).where(revisions.c.agent_id == agent_id, revisions.c.id == ref)
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else as_revision(row)


async def find_revision_by_hash(conn: Conn, agent_id: str, digest: str) -> RevisionRecord | None:
    """The agent's revision with this content hash."""
    stmt = sa.select(revisions).where(revisions.c.agent_id == agent_id, revisions.c.hash == digest)
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else as_revision(row)


async def list_revisions(conn: Conn, agent_id: str) -> list[RevisionRecord]:
    """An agent's revisions, newest first."""
    stmt = (
        sa.select(revisions)
        .where(revisions.c.agent_id == agent_id)
        .order_by(revisions.c.created_at.desc(), revisions.c.id.desc())
    )
    return [as_revision(r) for r in (await conn.execute(stmt)).mappings().all()]


async def insert_revision(conn: Conn, **row: object) -> None:
    """Record a revision."""
    await conn.execute(revisions.insert().values(**row))


async def publish_revision(conn: Conn, agent_id: str, revision_id: str, at: datetime) -> None:
    """Make one revision the published one; the one before goes back to draft."""
    await conn.execute(
        revisions.update()
        .where(revisions.c.agent_id == agent_id, revisions.c.stage == "published")
        .values(stage="draft")
    )
    await conn.execute(
        revisions.update()
        .where(revisions.c.id == revision_id)
        .values(stage="published", published_at=at)
    )
    await conn.execute(
        agents.update()
        .where(agents.c.id == agent_id)
        .values(published_revision_id=revision_id, updated_at=at)
    )
