"""A tenant's quotas: read them with its usage; lower them (an admin key) or set them
(the operator, offline: ``runplane quotas set``)."""

from runplane.domain.errors import Forbidden
from runplane.domain.models import Principal
from runplane.domain.roles import Permission
from runplane.schemas.quotas import QuotasPatch, QuotasPublic, QuotaUsage
from runplane.services import audit
from runplane.services.runtime import Runtime
from runplane.store import admission as store
from runplane.store.db import Database


async def get(rt: Runtime, who: Principal) -> QuotasPublic:
    """The tenant's quotas, the server's defaults and what the tenant uses now."""
    admission = rt.worker.admission
    limits = await admission.limits(who.tenant_id)
    usage = await admission.usage(who.tenant_id)
    return QuotasPublic(
        max_running=limits.max_running,
        max_queued=limits.max_queued,
        default_max_running=admission.defaults.max_running,
        default_max_queued=admission.defaults.max_queued,
        sse_max_per_key=rt.settings.sse_max_per_key,
        sse_max_seconds=rt.settings.sse_max_seconds,
        usage=QuotaUsage(
            running=usage.running, waiting=usage.waiting, held=usage.held, queued=usage.queued
        ),
    )


async def update(rt: Runtime, who: Principal, patch: QuotasPatch) -> QuotasPublic:
    """Set the tenant's overrides (an admin key), at most the server's defaults.

    A tenant may tighten its own quotas; only the operator may give it more than the
    defaults, since the defaults are what keeps one tenant from crowding out the rest.
    """
    who.require(Permission.MANAGE_KEYS)
    defaults = rt.worker.admission.defaults
    values = patch.model_dump(exclude_unset=True)
    for name, ceiling in (
        ("max_running", defaults.max_running),
        ("max_queued", defaults.max_queued),
    ):
        value = values.get(name)
        if value is not None and value > ceiling:
            raise Forbidden(
                f"{name} may be at most the server's default ({ceiling}) through the API; "
                "the operator can raise it: runplane quotas set",
                [{"name": name, "value": value}],
            )
    if values:
        await set_limits(rt.db, who.tenant_id, values, who)
        rt.worker.admission.forget(who.tenant_id)
    return await get(rt, who)


async def set_limits(
    db: Database, tenant_id: str, values: dict[str, int | None], who: Principal | None = None
) -> None:
    """Write a tenant's quota overrides (None clears one); ``who`` is recorded, if a key."""
    async with db.write() as conn:
        await store.set_tenant_limits(conn, tenant_id, values)
        if who is not None:
            await audit.record(conn, who, "quotas.updated", "tenant", tenant_id, dict(values))
