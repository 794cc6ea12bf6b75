"""Sites: named collections of a tenant's files, which runs read as their source context."""

from sqlalchemy.exc import IntegrityError

from runplane.domain.errors import Conflict, NotFound
from runplane.domain.ids import new_id
from runplane.domain.models import Principal, SiteRecord, utcnow
from runplane.domain.roles import Permission
from runplane.services import audit
from runplane.services.runtime import Runtime
from runplane.store import files as files_store
from runplane.store import sites as store


async def create_site(
    rt: Runtime, who: Principal, name: str, description: str | None = None
) -> SiteRecord:
    """Create a site; its name is unique in the tenant (409 otherwise)."""
    who.require(Permission.CREATE_RUNS)
    now = utcnow()
    row: SiteRecord = {
        "id": new_id("sit"),
        "tenant_id": who.tenant_id,
        "name": name,
        "description": description,
        "created_at": now,
        "updated_at": now,
    }
    try:
        async with rt.db.write() as conn:
            await store.insert(conn, row)
            await audit.record(conn, who, "site.created", "site", row["id"], {"name": name})
    except IntegrityError:
        raise Conflict(f"a site named {name!r} exists", [{"name": "name", "value": name}]) from None
    return row


async def list_sites(rt: Runtime, who: Principal) -> list[SiteRecord]:
    """The tenant's sites, oldest first."""
    async with rt.db.read() as conn:
        return await store.list_for_tenant(conn, who.tenant_id)


async def get_site(rt: Runtime, who: Principal, site_id: str) -> SiteRecord:
    """One site of the tenant, by id or name, or NotFound."""
    async with rt.db.read() as conn:
        row = await store.get(conn, who.tenant_id, site_id)
    if row is None:
        raise NotFound(f"no site {site_id!r}", [{"name": "site_id", "value": site_id}])
    return row


async def delete_site(rt: Runtime, who: Principal, site_id: str) -> None:
    """Delete an empty site that no unfinished run reads (409 otherwise)."""
    who.require(Permission.DELETE)
    site = await get_site(rt, who, site_id)
    async with rt.db.write() as conn:
        held = await files_store.count_in_site(conn, who.tenant_id, site["id"])
        if held:
            raise Conflict(
                f"site {site['name']!r} holds {held} files: delete them first",
                [{"name": "site_id", "value": site["id"]}],
            )
        for run_id, _, site_ids in await files_store.runs_with_inputs(conn, who.tenant_id):
            if site["id"] in site_ids:
                raise Conflict(
                    f"run {run_id} reads site {site['name']!r} and has not ended",
                    [{"name": "site_id", "value": site["id"]}],
                )
        await store.delete(conn, who.tenant_id, site["id"])
        await audit.record(conn, who, "site.deleted", "site", site["id"], {"name": site["name"]})
