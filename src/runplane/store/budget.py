"""A process's share of Postgres connections, and the fleet's sum against the server's limit.

One setting, ``RUNPLANE_DB_CONNECTIONS``, bounds every connection a process opens: its
own pool for runplane's tables, DBOS's system-database pool and LISTEN connection, the
LangGraph savers' pool and runplane's own LISTEN connection. Each pool is hard-capped
(no overflow), so a process never holds more than its budget; a request that cannot get
a connection in time is answered 503 (``api/errors.py``), not queued without end.
"""

import logging
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa

from runplane.store.db import Conn
from runplane.store.schema import executors

log = logging.getLogger("runplane.budget")

# Two connections live outside every pool: runplane's LISTEN and DBOS's.
LISTENERS = 2
MIN_CONNECTIONS = 8


class ConnectionBudget(NamedTuple):
    """How a process's connections are shared out among its pools."""

    total: int
    runplane: int  # runs, events, steps, keys: every request and step boundary
    dbos: int  # workflow starts, queue polls, outcomes
    savers: int  # LangGraph checkpoints and store
    listeners: int = LISTENERS

    def describe(self) -> str:
        """One line for the start-up log."""
        return (
            f"{self.total} database connections: runplane {self.runplane}, DBOS {self.dbos}, "
            f"LangGraph savers {self.savers}, LISTEN {self.listeners}"
        )


def share_out(total: int) -> ConnectionBudget:
    """Split ``total`` connections among the pools (measured: runplane's tables take the most)."""
    if total < MIN_CONNECTIONS:
        raise ValueError(f"a process needs at least {MIN_CONNECTIONS} database connections")
    savers = max(2, total // 10)  # two: setting the savers up holds one while using another
    dbos = max(2, (total - LISTENERS - savers) * 2 // 5)
    return ConnectionBudget(total, total - LISTENERS - savers - dbos, dbos, savers)


class FleetLoad(NamedTuple):
    """The connections every live process may hold, against what the server allows."""

    others: int  # budgets of the other live processes
    mine: int
    available: int  # max_connections less the connections reserved for superusers

    @property
    def over(self) -> bool:
        """Tell whether the fleet could open more connections than the server allows."""
        return self.others + self.mine > self.available


async def fleet_load(conn: Conn, me: str, mine: int, alive_after: datetime) -> FleetLoad:
    """Sum the budgets of the processes that have beaten since ``alive_after``, on Postgres."""
    limit = await _setting(conn, "max_connections")
    reserved = await _setting(conn, "superuser_reserved_connections")
    others = await conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(executors.c.db_connections), 0)).where(
            executors.c.heartbeat_at >= alive_after, executors.c.id != me
        )
    )
    return FleetLoad(int(str(others.scalar_one())), mine, limit - reserved)


async def _setting(conn: Conn, name: str) -> int:
    res = await conn.execute(sa.select(sa.func.current_setting(name)))
    return int(str(res.scalar_one()))


def warn_if_over(load: FleetLoad) -> None:
    """Log, with the numbers, a fleet that could exhaust the server's connections."""
    if load.over:
        log.warning(
            "the fleet may open more database connections than Postgres allows: "
            "this process %d + other live processes %d = %d > %d (max_connections less "
            "superuser_reserved_connections); lower RUNPLANE_DB_CONNECTIONS, run fewer "
            "processes, raise max_connections or put PgBouncer in front (docs/scaling.md)",
            load.mine,
            load.others,
            load.mine + load.others,
            load.available,
            extra={"db_connections": load.mine, "fleet": load.mine + load.others},
        )
