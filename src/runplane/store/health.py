"""What a readiness probe asks the database: does it answer, and at which migration."""

import sqlalchemy as sa

from runplane.store.db import Conn
from runplane.store.retry import is_database_outage


async def schema_revision(conn: Conn) -> str | None:
    """The Alembic revision the database is at (None: never migrated).

    Raises only when the database cannot be reached; a missing version table is None.
    """
    try:
        row = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).first()
    except sa.exc.DBAPIError as exc:
        if is_database_outage(exc):
            raise
        return None  # no such table: nothing was ever migrated here
    return None if row is None else str(row[0])


async def ping(conn: Conn) -> None:
    """A trivial query: raises if the database does not answer."""
    await conn.execute(sa.text("SELECT 1"))
