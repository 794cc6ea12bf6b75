"""Upload triggers: a file stored into a site starts a run of each trigger it matches.

``upload`` stores the file (``services/files.py``), then, before answering, records the
run of every enabled upload trigger of that site whose ``glob`` and ``media_type`` the
file matches; it does not wait for those runs. Each run reads the file (``file_ids``) and
is created under the Idempotency-Key ``trigger:{id}:sha256:{sha256}``: the same bytes
uploaded again, under any name, start no second run. A trigger whose run cannot start
(its agent gone, its input no longer valid) is logged and skipped: the upload stands.
"""

import logging

from runplane.domain.errors import Conflict, RunplaneError
from runplane.domain.file_match import media_type_matches, name_matches
from runplane.domain.models import FileRecord, Principal, TriggerRecord, utcnow
from runplane.services import files as files_svc
from runplane.services import triggers as triggers_svc
from runplane.services.runtime import Runtime
from runplane.store import runs as runs_store
from runplane.store import triggers as store

log = logging.getLogger("runplane.triggers")


def matches(row: TriggerRecord, file: FileRecord) -> bool:
    """Whether an upload trigger fires for a file: its site, name glob and media type."""
    options = row["options"] or {}
    glob, media_type = options.get("glob"), options.get("media_type")
    return (
        options.get("site_id") == file["site_id"]
        and name_matches(glob if isinstance(glob, str) else None, file["name"])
        and media_type_matches(
            media_type if isinstance(media_type, str) else None, file["media_type"]
        )
    )


def dedupe_key(row: TriggerRecord, file: FileRecord) -> str:
    """The Idempotency-Key of an upload trigger's run for a file's content."""
    return f"trigger:{row['id']}:sha256:{file['sha256']}"


async def upload(
    rt: Runtime,
    who: Principal,
    *,
    site_id: str,
    name: str,
    data: bytes,
    declared: str | None,
) -> FileRecord:
    """Store an uploaded file in a site, then start the run of each upload trigger it matches."""
    row = await files_svc.upload(rt, who, site_id=site_id, name=name, data=data, declared=declared)
    await fire(rt, row)
    return row


async def fire(rt: Runtime, file: FileRecord) -> list[str]:
    """Start the runs a stored file's upload triggers owe it; the ids of those new runs."""
    if file["site_id"] is None:
        return []
    async with rt.db.read() as conn:
        watching = await store.uploads_for_site(conn, file["tenant_id"], file["site_id"])
    started: list[str] = []
    for row in watching:
        if matches(row, file):
            run_id = await _start(rt, row, file)
            if run_id is not None:
                started.append(run_id)
    return started


async def _start(rt: Runtime, row: TriggerRecord, file: FileRecord) -> str | None:
    """The run of one trigger for one file, unless its content already started one."""
    key = dedupe_key(row, file)
    extra = {"tenant": row["tenant_id"], "trigger_id": row["id"], "file_id": file["id"]}
    async with rt.db.read() as conn:
        if await runs_store.find_idempotent(conn, row["tenant_id"], key) is not None:
            log.info("trigger %s: content of %s already started a run", row["id"], file["id"])
            return None
    try:
        run = await triggers_svc.start_run(rt, row, row["input"], key, file_ids=[file["id"]])
    except Conflict as exc:
        if any(d.get("name") == "Idempotency-Key" for d in exc.details):
            return None  # the same bytes, uploaded at the same moment, won the race
        log.warning("trigger %s could not start its run: %s", row["id"], exc, extra=extra)
        return None
    except RunplaneError as exc:
        log.warning("trigger %s could not start its run: %s", row["id"], exc, extra=extra)
        return None
    async with rt.db.write() as conn:
        await store.update(
            conn, row["tenant_id"], row["id"], last_fired_at=utcnow(), last_run_id=run["id"]
        )
    return run["id"]
