"""Files: uploads into sites and runs' artifacts; their bytes are in the blob store.

A file's bytes are kept once per tenant and content (``<tenant>/<sha256>``); a record
goes when it is deleted, its blob when no record of the tenant has that content left.
A file is not deleted while a run that has not ended reads it (or made it).
"""

import hashlib
from collections.abc import Sequence

from runplane.domain.errors import Conflict, Invalid, NotFound, PayloadTooLarge
from runplane.domain.ids import new_id
from runplane.domain.json import JSONObject
from runplane.domain.media import media_type_of
from runplane.domain.models import FileRecord, Principal, StepRow, utcnow
from runplane.domain.roles import Permission
from runplane.services import audit
from runplane.services.runtime import Runtime
from runplane.store import files as store
from runplane.store import runs as runs_store
from runplane.store import sites as sites_store
from runplane.store.blobs import blob_key


def _not_found(file_id: str) -> NotFound:
    return NotFound(f"no file {file_id!r}", [{"name": "file_id", "value": file_id}])


def too_large(rt: Runtime, size: int) -> PayloadTooLarge:
    """The error for a file over ``RUNPLANE_MAX_FILE_BYTES``, naming the field."""
    limit = rt.settings.max_file_bytes
    return PayloadTooLarge(
        f"file: {size} bytes is over the limit of {limit} bytes (RUNPLANE_MAX_FILE_BYTES)",
        [{"name": "file", "value": size}],
    )


async def upload(
    rt: Runtime,
    who: Principal,
    *,
    site_id: str,
    name: str,
    data: bytes,
    declared: str | None,
) -> FileRecord:
    """Store an uploaded file in a site: its media type from its content, its sha256."""
    who.require(Permission.CREATE_RUNS)
    if len(data) > rt.settings.max_file_bytes:
        raise too_large(rt, len(data))
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name or len(name) > 255:
        raise Invalid.field("file", "the file needs a name of 1 to 255 characters", name)
    async with rt.db.read() as conn:
        site = await sites_store.get(conn, who.tenant_id, site_id)
    if site is None:
        raise Invalid.field("site_id", f"no site {site_id!r}", site_id)
    media_type = media_type_of(data, declared, name)
    sha = hashlib.sha256(data).hexdigest()
    row: FileRecord = {
        "id": new_id("fil"),
        "tenant_id": who.tenant_id,
        "site_id": site["id"],
        "run_id": None,
        "step": None,
        "name": name,
        "media_type": media_type,
        "size": len(data),
        "sha256": sha,
        "created_at": utcnow(),
    }
    # The bytes first: a record never points at a blob that is not there.
    await rt.blobs.put(blob_key(who.tenant_id, sha), data)
    async with rt.db.write() as conn:
        await store.insert(conn, row)
        noted: JSONObject = {"name": name, "site_id": site["id"], "sha256": sha, "size": len(data)}
        await audit.record(conn, who, "file.uploaded", "file", row["id"], noted)
    return row


async def get_file(rt: Runtime, who: Principal, file_id: str) -> FileRecord:
    """One file of the tenant, or NotFound."""
    async with rt.db.read() as conn:
        row = await store.get(conn, who.tenant_id, file_id)
    if row is None:
        raise _not_found(file_id)
    return row


async def read_content(rt: Runtime, who: Principal, file_id: str) -> tuple[FileRecord, bytes]:
    """A file's record and its bytes."""
    row = await get_file(rt, who, file_id)
    data = await rt.blobs.get(blob_key(who.tenant_id, row["sha256"]))
    if data is None:
        raise NotFound(
            f"the content of file {file_id} is missing from the file store",
            [{"name": "file_id", "value": file_id}],
        )
    return row, data


async def list_files(
    rt: Runtime,
    who: Principal,
    *,
    site_id: str | None,
    run_id: str | None,
    limit: int,
    continuation_token: str | None,
) -> tuple[list[FileRecord], str | None]:
    """A page of the tenant's files, newest first; ``site_id`` and ``run_id`` filter."""
    after = runs_store.decode_token(continuation_token) if continuation_token else None
    async with rt.db.read() as conn:
        if site_id is not None:
            site = await sites_store.get(conn, who.tenant_id, site_id)
            if site is None:
                raise NotFound(f"no site {site_id!r}", [{"name": "site_id", "value": site_id}])
            site_id = site["id"]
        rows = await store.list_page(
            conn, who.tenant_id, site_id=site_id, run_id=run_id, limit=limit, after=after
        )
    return runs_store.page_of(rows, limit)


async def in_sites(rt: Runtime, who: Principal, site_ids: Sequence[str]) -> list[FileRecord]:
    """The files of these sites of the tenant, newest first."""
    if not site_ids:
        return []
    async with rt.db.read() as conn:
        rows = await store.in_sites(conn, who.tenant_id, list(site_ids))
    return sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)


async def delete_file(rt: Runtime, who: Principal, file_id: str) -> None:
    """Delete a file unless it is on hold, or a run that has not ended reads it or made
    it (409)."""
    who.require(Permission.DELETE)
    async with rt.db.write() as conn:
        row = await store.get(conn, who.tenant_id, file_id)
        if row is None:
            raise _not_found(file_id)
        if row.get("hold_reason") is not None:
            raise Conflict(
                f"file {file_id} is on legal hold ({row['hold_reason']!r}, by"
                f" {row.get('hold_by')}): release the hold first",
                [{"name": "file_id", "value": file_id}],
            )
        user = None
        if row["run_id"] is not None and await store.run_active(conn, who.tenant_id, row["run_id"]):
            user = row["run_id"]
        for run_id, file_ids, site_ids in await store.runs_with_inputs(conn, who.tenant_id):
            if file_id in file_ids or (row["site_id"] is not None and row["site_id"] in site_ids):
                user = run_id
        if user is not None:
            raise Conflict(
                f"run {user} uses file {file_id} and has not ended",
                [{"name": "file_id", "value": file_id}],
            )
        await store.delete(conn, who.tenant_id, file_id)
        noted: JSONObject = {"name": row["name"], "sha256": row["sha256"]}
        await audit.record(conn, who, "file.deleted", "file", file_id, noted)
        keep_blob = await store.sha_in_use(conn, who.tenant_id, row["sha256"])
    if not keep_blob:
        await rt.blobs.delete(blob_key(who.tenant_id, row["sha256"]))


async def hold_file(rt: Runtime, who: Principal, file_id: str, reason: str) -> FileRecord:
    """Put a file on legal hold, so it is not deleted until released (admin; audited)."""
    who.require(Permission.HOLD_FILES)
    reason = reason.strip()
    if not reason:
        raise Invalid.field("reason", "a hold needs a reason", reason)
    async with rt.db.write() as conn:
        row = await store.get(conn, who.tenant_id, file_id)
        if row is None:
            raise _not_found(file_id)
        if row.get("hold_reason") is not None:
            raise Conflict(
                f"file {file_id} is already on hold ({row['hold_reason']!r}, by"
                f" {row.get('hold_by')}): release it first to change the reason",
                [{"name": "file_id", "value": file_id}],
            )
        at = utcnow()
        await store.set_hold(conn, who.tenant_id, file_id, reason, who.key_id, at)
        await audit.record(conn, who, "file.held", "file", file_id, {"reason": reason})
    return {**row, "hold_reason": reason, "hold_by": who.key_id, "hold_at": at}


async def release_file(rt: Runtime, who: Principal, file_id: str) -> FileRecord:
    """Lift a file's legal hold (admin; audited); 409 if it is not on hold."""
    who.require(Permission.HOLD_FILES)
    async with rt.db.write() as conn:
        row = await store.get(conn, who.tenant_id, file_id)
        if row is None:
            raise _not_found(file_id)
        if row.get("hold_reason") is None:
            raise Conflict(
                f"file {file_id} is not on hold", [{"name": "file_id", "value": file_id}]
            )
        await store.set_hold(conn, who.tenant_id, file_id, None, None, None)
        await audit.record(
            conn, who, "file.released", "file", file_id, {"reason": row.get("hold_reason")}
        )
    return {**row, "hold_reason": None, "hold_by": None, "hold_at": None}


async def check_run_inputs(
    rt: Runtime, who: Principal, file_ids: Sequence[str] | None, site_ids: Sequence[str] | None
) -> tuple[list[str] | None, list[str] | None]:
    """A new run's ``file_ids`` and ``site_ids``: each one of the tenant's (422 naming it)."""
    files = list(dict.fromkeys(file_ids)) if file_ids else None
    sites = list(dict.fromkeys(site_ids)) if site_ids else None
    async with rt.db.read() as conn:
        if files:
            found = {r["id"] for r in await store.get_many(conn, who.tenant_id, files)}
            for i, fid in enumerate(files):
                if fid not in found:
                    raise Invalid(
                        f"file_ids[{i}]: no file {fid!r}", [{"name": "file_ids", "value": fid}]
                    )
        if sites:
            resolved: list[str] = []
            for sid in sites:
                site = await sites_store.get(conn, who.tenant_id, sid)
                if site is None:
                    raise Invalid(
                        f"site_ids: no site {sid!r}", [{"name": "site_ids", "value": sid}]
                    )
                resolved.append(site["id"])
            sites = list(dict.fromkeys(resolved))
    return files, sites


async def of_run(rt: Runtime, who: Principal, run_id: str) -> list[FileRecord]:
    """The files a run's steps saved, by step (NotFound for another tenant's run)."""
    async with rt.db.read() as conn:
        if await runs_store.get_run(conn, who.tenant_id, run_id) is None:
            raise NotFound(f"no run {run_id!r}", [{"name": "run_id", "value": run_id}])
        return await store.of_runs(conn, who.tenant_id, [run_id])


async def steps_with_files(
    rt: Runtime, who: Principal, run_id: str
) -> list[tuple[StepRow, list[FileRecord]]]:
    """A run's steps, each with the files it saved."""
    async with rt.db.read() as conn:
        if await runs_store.get_run(conn, who.tenant_id, run_id) is None:
            raise NotFound(f"no run {run_id!r}", [{"name": "run_id", "value": run_id}])
        steps = await runs_store.list_steps(conn, run_id)
        saved = await store.of_runs(conn, who.tenant_id, [run_id])
    by_step: dict[int, list[FileRecord]] = {}
    for f in saved:
        by_step.setdefault(f["step"] or 0, []).append(f)
    return [(s, by_step.get(s["number"], [])) for s in steps]
