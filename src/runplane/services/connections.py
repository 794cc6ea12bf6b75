"""Users' connections to integrations: credentials stored encrypted, act-as-user."""

from runplane.domain.errors import Conflict, Forbidden, Invalid, NotFound
from runplane.domain.models import ConnectionRecord, Principal, utcnow
from runplane.domain.roles import Permission
from runplane.services import audit
from runplane.services.runtime import Runtime
from runplane.store import connections as store
from runplane.store import runs as runs_store


def _check_integration(rt: Runtime, integration: str) -> None:
    known = rt.project.integrations
    if integration not in known:
        raise Invalid.field(
            "integration",
            f"unknown integration {integration!r} (known: {', '.join(sorted(known))})",
            integration,
        )


def _check_may_manage(who: Principal, user_id: str) -> None:
    """A key manages its own user's connections; another user's take MANAGE_CONNECTIONS."""
    who.require(Permission.CREATE_RUNS)  # a viewer changes nothing, not even its own
    if user_id != who.user_id and not who.can(Permission.MANAGE_CONNECTIONS):
        bound = f"bound to {who.user_id!r}" if who.user_id else "bound to no user"
        raise Forbidden(
            f"a {who.role} key {bound} may not manage the connections of {user_id!r}",
            [{"name": "user_id", "value": user_id}],
        )


async def put_connection(
    rt: Runtime, who: Principal, user_id: str, integration: str, secret: str
) -> tuple[ConnectionRecord, list[str]]:
    """Store a user's credential; resume that user's runs waiting on it."""
    _check_may_manage(who, user_id)
    _check_integration(rt, integration)
    now = utcnow()
    async with rt.db.write() as conn:
        await store.put(conn, who.tenant_id, user_id, integration, rt.keys.seal(secret), now)
        await audit.record(
            conn, who, "connection.put", "connection", f"{user_id}/{integration}", {}
        )
        waiting = await runs_store.waiting_for_connection(conn, who.tenant_id, user_id, integration)
    resumed = []
    for run in waiting:
        try:
            await rt.worker.resume(run, [], reason=f"{user_id} connected {integration}")
        except Conflict:  # it moved meanwhile (canceled, or resumed elsewhere)
            continue
        resumed.append(run["id"])
    async with rt.db.read() as conn:
        row = await store.get(conn, who.tenant_id, user_id, integration)
    assert row is not None
    return row, resumed


async def list_connections(rt: Runtime, who: Principal, user_id: str) -> list[ConnectionRecord]:
    """A user's connections (their secrets stay sealed)."""
    async with rt.db.read() as conn:
        return await store.list_for_user(conn, who.tenant_id, user_id)


async def delete_connection(rt: Runtime, who: Principal, user_id: str, integration: str) -> None:
    """Revoke a user's credential; later calls needing it wait for a new one."""
    _check_may_manage(who, user_id)
    async with rt.db.write() as conn:
        found = await store.delete(conn, who.tenant_id, user_id, integration)
        if found:
            await audit.record(
                conn, who, "connection.deleted", "connection", f"{user_id}/{integration}", {}
            )
    if not found:
        raise NotFound(
            f"{user_id} has no connection to {integration}",
            [{"name": "integration", "value": integration}],
        )
