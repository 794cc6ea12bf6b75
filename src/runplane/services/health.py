"""Readiness: may an orchestrator send this process traffic (``/readyz``)?"""

import asyncio

from runplane.services.runtime import Runtime
from runplane.store import health as health_store
from runplane.store import migrate
from runplane.store.retry import describe

# The database must answer within this long: a probe that hangs tells an orchestrator
# nothing, and the pool may wait far longer for a connection (RUNPLANE_DB_WAIT_SECONDS).
DATABASE_TIMEOUT = 2.0
OK = "ok"
NOT_A_WORKER = "not a worker"


async def readiness(rt: Runtime) -> tuple[str, dict[str, str]]:
    """The overall status (ready, unready or draining) and each check's finding."""
    checks = {"database": OK, "migrations": OK, "worker": _worker(rt)}
    try:
        # Once current, the schema stays so (a newer one needs newer code): one query less.
        if rt.schema_current:
            async with asyncio.timeout(DATABASE_TIMEOUT):
                await _ping(rt)
        else:
            async with asyncio.timeout(DATABASE_TIMEOUT):
                at = await _revision(rt)
            if at == migrate.head():
                rt.schema_current = True
            else:
                checks["migrations"] = (
                    f"behind: at {at or 'none'}, this code needs {migrate.head()}"
                )
    except TimeoutError:
        checks["database"] = f"no answer within {DATABASE_TIMEOUT:g} s"
        checks["migrations"] = "unknown"
    except Exception as exc:
        checks["database"] = f"unreachable: {describe(exc)}"
        checks["migrations"] = "unknown"
    if rt.worker.draining:
        return "draining", checks
    ready = all(v in (OK, NOT_A_WORKER) for v in checks.values())
    return ("ready" if ready else "unready"), checks


def _worker(rt: Runtime) -> str:
    """Whether this process's loops are alive: its last heartbeat got through lately."""
    if not rt.settings.executes:
        return NOT_A_WORKER
    lease = rt.worker.lease
    # The heartbeat loop beats every heartbeat_seconds; past the lease's ttl (half the
    # dead-after time) this process holds its runs, and others soon declare it dead.
    if lease.lapsed_for >= lease.ttl:
        return f"no heartbeat for {lease.lapsed_for:.1f} s"
    return OK


async def _ping(rt: Runtime) -> None:
    async with rt.db.read() as conn:
        await health_store.ping(conn)


async def _revision(rt: Runtime) -> str | None:
    async with rt.db.read() as conn:
        return await health_store.schema_revision(conn)
