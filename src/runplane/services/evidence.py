"""Evidence bundles: one run's, straight away, or many runs' in the background (exports).

The format is ``domain.evidence``'s (a public contract); this module reads what goes in.
An export's zip is written to a file under the server's data folder
(``<data>/exports/<tenant>/<export>.zip``), one run at a time, so a large export never
sits whole in memory. Its builder beats while it works; an export whose builder stopped
beating (its process died) is taken over by another process, or by this one on restart,
and built again from the start.
"""

import asyncio
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import IO

import anyio

from runplane.domain.errors import Conflict, Gone, Invalid, NotFound
from runplane.domain.evidence import BundleWriter, Signer, canonical_hash, safe_name
from runplane.domain.ids import new_id
from runplane.domain.json import JSONObject, as_object
from runplane.domain.lifecycle import TERMINAL
from runplane.domain.models import (
    EvidenceExportRecord,
    FileRecord,
    Principal,
    RevisionRecord,
    RunRecord,
    iso,
    utcnow,
)
from runplane.domain.roles import Permission
from runplane.schemas.evidence import ExportCreate, ExportQuery
from runplane.schemas.governance import GovernancePolicy
from runplane.schemas.run_view import run_public
from runplane.schemas.wire import ApprovalPublic, StepPublic
from runplane.services import audit
from runplane.services import signing_keys as keys_svc
from runplane.services.crypto import data_dir
from runplane.services.runs import chain_links
from runplane.services.runtime import Runtime
from runplane.store import agents as agents_store
from runplane.store import approvals as approvals_store
from runplane.store import evidence as store
from runplane.store import files as files_store
from runplane.store import governance as governance_store
from runplane.store import runs as runs_store
from runplane.store.blobs import blob_key
from runplane.store.runs import decode_token, page_of

log = logging.getLogger("runplane.evidence")
_ENDED = {str(s) for s in TERMINAL}
# Media types whose bytes are compressed already: stored as they are.
_PACKED = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/zip",
    "application/pdf",
)
_PACKED_SUFFIX = ("officedocument", "gzip", "zip")
CHUNK = 1 << 16
PROGRESS_SECONDS = 0.25

Progress = Callable[[int], Awaitable[bool]]


# -- one bundle ------------------------------------------------------------------------


async def write_bundle(
    rt: Runtime,
    who: Principal,
    run_ids: list[str],
    out: IO[bytes],
    query: JSONObject,
    progress: Progress | None = None,
) -> str | None:
    """Write the bundle of these runs (the tenant's, ended) to ``out``; the signing key id.

    ``progress`` is told after each run how many are done; it returns False to stop.
    """
    signer = await _signer_if_enabled(rt, who.tenant_id)
    writer = BundleWriter(out)
    policies: set[int] = set()
    chains: JSONObject = {}
    for done, run_id in enumerate(run_ids, start=1):
        members, version, chain = await _run_members(rt, who, run_id)
        policies.add(version)
        chains[run_id] = chain
        await anyio.to_thread.run_sync(_add_all, writer, members)
        if progress is not None and not await progress(done):
            raise asyncio.CancelledError("the export was taken over by another process")
    for version in sorted(policies):
        document = await _policy(rt, who.tenant_id, version)
        await anyio.to_thread.run_sync(writer.add_json, f"policy/{version}.json", document)
    manifest: JSONObject = {
        "created_at": iso(utcnow()),
        "tenant": who.tenant_id,
        "exported_by": who.key_id,
        "query": query,
        "runs": list(run_ids),
        "chains": chains,
    }
    await anyio.to_thread.run_sync(writer.finish, manifest, signer)
    return None if signer is None else signer.key_id


Member = tuple[str, bytes | object, bool]  # path, bytes (or a JSON value), compress


def _add_all(writer: BundleWriter, members: list[Member]) -> None:
    for path, content, compress in members:
        if isinstance(content, bytes):
            writer.add(path, content, compress=compress)
        elif path.endswith(".jsonl"):
            assert isinstance(content, list)
            writer.add_lines(path, content)
        else:
            writer.add_json(path, content)


async def _signer_if_enabled(rt: Runtime, tenant_id: str) -> Signer | None:
    async with rt.db.read() as conn:
        version = await governance_store.current_version(conn, tenant_id)
    policy = await _policy(rt, tenant_id, version)
    if not as_object(as_object(policy["document"]).get("signing")).get("enabled", True):
        return None
    return await keys_svc.signer(rt, tenant_id)


async def _policy(rt: Runtime, tenant_id: str, version: int) -> JSONObject:
    async with rt.db.read() as conn:
        document = await governance_store.get_policy(conn, tenant_id, version)
    if document is None:  # version 1, the built-in default, is never stored
        document = GovernancePolicy().model_dump(mode="json")
    return {"version": version, "document": document}


async def _run_members(
    rt: Runtime, who: Principal, run_id: str
) -> tuple[list[Member], int, JSONObject]:
    """One run's members in their order, its policy version, and its chain's head."""
    async with rt.db.read() as conn:
        run = await runs_store.get_run(conn, who.tenant_id, run_id)
        if run is None:
            raise NotFound(f"run {run_id} not found")
        revision = await agents_store.find_revision(conn, run["agent_id"], run["revision_id"])
        events = await runs_store.list_events(conn, run_id)
        steps = await runs_store.list_steps(conn, run_id)
        approvals = await approvals_store.list_approvals(
            conn, who.tenant_id, run_id=run_id, status=None, limit=10_000, after=None
        )
        made = await files_store.of_runs(conn, who.tenant_id, [run_id])
        given = await files_store.get_many(conn, who.tenant_id, run.get("file_ids") or [])
    version = run.get("policy_version") or 1  # NULL: a run from before policies (default)
    base = f"runs/{run_id}"
    view = run_public(run, who).model_dump(mode="json")
    view.update(
        policy_version=version,
        revision_id=run["revision_id"],
        revision_hash=None if revision is None else revision["hash"],
    )
    members: list[Member] = [
        (f"{base}/run.json", view, True),
        (f"{base}/revision.json", _revision(revision, run), True),
        (f"{base}/events.jsonl", chain_links(events), True),
        (
            f"{base}/steps.json",
            [StepPublic.model_validate(dict(s)).model_dump(mode="json") for s in steps],
            True,
        ),
        (
            f"{base}/sources.json",
            [
                {"seq": e["seq"], "at": iso(e["at"]), **e["data"]}
                for e in events
                if e["type"] == "source"
            ],
            True,
        ),
        (
            f"{base}/approvals.json",
            [
                ApprovalPublic.model_validate(
                    {**dict(a), "link": None, "link_expires_at": None}
                ).model_dump(mode="json")
                for a in sorted(approvals, key=lambda a: (a["created_at"], a["id"]))
            ],
            True,
        ),
    ]
    records, binaries = await _files(rt, base, run_id, made, given)
    members.append((f"{base}/files.json", records, True))
    members.extend(binaries)
    head: JSONObject = {"events": len(events), "head": events[-1]["hash"] if events else None}
    return members, version, head


def _revision(rev: RevisionRecord | None, run: RunRecord) -> JSONObject:
    if rev is None:
        return {"id": run["revision_id"], "agent_id": run["agent_id"], "missing": True}
    config = rev["config"]
    return {
        "id": rev["id"],
        "agent_id": rev["agent_id"],
        "agent_name": run["agent_name"],
        "stage": rev["stage"],
        "created_at": iso(rev["created_at"]),
        "config": config,
        "hash": rev["hash"],
        "hash_of": (
            "sha256 of json.dumps(config, sort_keys=True): check it from the config"
            if hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
            == rev["hash"]
            else "sha256 of the agent module's source and its configuration (the source is "
            "not in the bundle; config_sha256 is the canonical JSON's)"
        ),
        "config_sha256": canonical_hash(config),
    }


async def _files(
    rt: Runtime, base: str, run_id: str, made: list[FileRecord], given: list[FileRecord]
) -> tuple[list[JSONObject], list[Member]]:
    records: list[JSONObject] = []
    binaries: list[Member] = []
    seen: set[str] = set()
    for role, group in (("input", given), ("output", made)):
        for f in group:
            if f["id"] in seen:
                continue
            seen.add(f["id"])
            data = await rt.blobs.get(blob_key(f["tenant_id"], f["sha256"]))
            member = f"{base}/files/{f['id']}/{safe_name(f['name'])}"
            records.append(
                {
                    "id": f["id"],
                    "name": f["name"],
                    "role": role,
                    "media_type": f["media_type"],
                    "size": f["size"],
                    "sha256": f["sha256"],
                    "step": f["step"] if f["run_id"] == run_id else None,
                    "created_at": iso(f["created_at"]),
                    "member": member if data is not None else None,
                }
            )
            if data is not None:
                binaries.append((member, data, not _packed(f["media_type"])))
    return records, binaries


def _packed(media_type: str) -> bool:
    return media_type.startswith(_PACKED) or media_type.endswith(_PACKED_SUFFIX)


# -- one run's bundle, on request ------------------------------------------------------


async def run_bundle(rt: Runtime, who: Principal, run_id: str) -> tuple[IO[bytes], int]:
    """The bundle of one ended run, in a temporary file (rewound), and its size."""
    async with rt.db.read() as conn:
        run = await runs_store.get_run(conn, who.tenant_id, run_id)
    if run is None:
        raise NotFound(f"run {run_id} not found")
    if run["status"] not in _ENDED:
        raise Conflict(
            f"run {run_id} is {run['status']}: its evidence is exported once it has ended",
            [{"name": "run_id", "value": run_id}],
        )
    out = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - the response closes it
    try:
        await write_bundle(rt, who, [run_id], out, {"run_ids": [run_id]})
        size = out.tell()
        out.seek(0)
        async with rt.db.write() as conn:
            await audit.record(conn, who, "evidence.downloaded", "run", run_id, {"bytes": size})
    except BaseException:
        out.close()
        raise
    return out, size


async def chunks(out: IO[bytes]) -> AsyncIterator[bytes]:
    """A file's bytes in pieces, for a streamed response; the file is closed at the end."""
    try:
        while chunk := await anyio.to_thread.run_sync(out.read, CHUNK):
            yield chunk
    finally:
        out.close()


# -- exports ---------------------------------------------------------------------------


async def create_export(rt: Runtime, who: Principal, body: ExportCreate) -> EvidenceExportRecord:
    """Record an export of the runs named (or matched) and start building it here."""
    who.require(Permission.GOVERN)
    run_ids = await _runs_of(rt, who, body)
    query: JSONObject = (
        {"run_ids": list(body.run_ids)}
        if body.run_ids is not None
        else as_object(body.query.model_dump(mode="json", exclude_none=True) if body.query else {})
    )
    now = utcnow()
    row: EvidenceExportRecord = {
        "id": new_id("exp"),
        "tenant_id": who.tenant_id,
        "query": {**query, "resolved_run_ids": list(run_ids)},
        "status": "queued",
        "runs_total": len(run_ids),
        "runs_done": 0,
        "bytes": 0,
        "sha256": None,
        "location": None,
        "signing_key_id": None,
        "error": None,
        "owner": rt.engine.executor_id,
        "heartbeat_at": now,
        "created_at": now,
        "created_by_key_id": who.key_id,
        "finished_at": None,
    }
    async with rt.db.write() as conn:
        await store.insert_export(conn, row)
        await audit.record(
            conn,
            who,
            "export.created",
            "evidence_export",
            row["id"],
            {**query, "runs": len(run_ids)},
        )
    _spawn(rt, row["id"], who)
    return row


async def _runs_of(rt: Runtime, who: Principal, body: ExportCreate) -> list[str]:
    async with rt.db.read() as conn:
        if body.run_ids is not None:
            wanted = list(dict.fromkeys(body.run_ids))
            found = await store.run_ids_matching(conn, who.tenant_id, run_ids=wanted)
            live = await store.run_ids_matching(conn, who.tenant_id, run_ids=wanted, outside=_ENDED)
        else:
            q = body.query or ExportQuery()
            found = await store.run_ids_matching(
                conn,
                who.tenant_id,
                agent_id=q.agent_id,
                created_after=q.created_after,
                created_before=q.created_before,
                statuses={q.status} if q.status else _ENDED,
            )
            live = []
    if body.run_ids is not None:
        missing = [r for r in wanted if r not in set(found)]
        if missing:
            raise Invalid.field("run_ids", f"no such runs: {', '.join(missing[:10])}", missing)
        if live:
            raise Conflict(
                f"runs still going: {', '.join(live[:10])}: export them once they have ended",
                [{"name": "run_ids", "value": live}],
            )
        return wanted
    if not found:
        raise Invalid.field(
            "query",
            "the query matches no ended run: nothing to export",
            body.model_dump(mode="json")["query"],
        )
    return found


def _spawn(rt: Runtime, export_id: str, who: Principal) -> None:
    task = asyncio.create_task(build_export(rt, export_id, who))
    rt.background_tasks.add(task)
    task.add_done_callback(rt.background_tasks.discard)


def exports_dir(rt: Runtime, tenant_id: str) -> Path:
    """Where a tenant's finished exports are kept (every server process must see it)."""
    return data_dir(rt.settings) / "exports" / safe_name(tenant_id)


async def build_export(rt: Runtime, export_id: str, who: Principal) -> None:
    """Build an export this process owns; mark it succeeded or failed."""
    me = rt.engine.executor_id
    async with rt.db.read() as conn:
        export = await store.get_export(conn, who.tenant_id, export_id)
    if export is None or export["owner"] != me:
        return
    folder = exports_dir(rt, who.tenant_id)
    final = folder / f"{export_id}.zip"
    part = folder / f".{export_id}.{os.getpid()}.part"

    last_beat = [0.0]

    async def progress(done: int) -> bool:
        # A write per run would cost more than the run's read: progress is told at most
        # every PROGRESS_SECONDS (each one is also the builder's heartbeat).
        if done < len(run_ids) and time.monotonic() - last_beat[0] < PROGRESS_SECONDS:
            return True
        last_beat[0] = time.monotonic()
        async with rt.db.write() as conn:
            return await store.update_export(
                conn, export_id, me, utcnow(), status="running", runs_done=done, bytes=out.tell()
            )

    try:
        await anyio.to_thread.run_sync(lambda: folder.mkdir(parents=True, exist_ok=True))
        run_ids = [str(r) for r in export["query"].get("resolved_run_ids") or []]  # type: ignore[union-attr]
        with open(part, "wb") as out:  # noqa: ASYNC230 - written in pieces, between awaits
            key_id = await write_bundle(rt, who, run_ids, out, asked(export), progress)
        digest, size = await anyio.to_thread.run_sync(_hash_file, part)
        await anyio.to_thread.run_sync(os.replace, part, final)
        async with rt.db.write() as conn:
            await store.update_export(
                conn,
                export_id,
                me,
                utcnow(),
                status="succeeded",
                runs_done=len(run_ids),
                bytes=size,
                sha256=digest,
                location=str(final),
                signing_key_id=key_id,
                finished_at=utcnow(),
            )
    except asyncio.CancelledError:
        part.unlink(missing_ok=True)
        raise
    except Exception as exc:
        part.unlink(missing_ok=True)
        log.exception("evidence export %s failed", export_id)
        error: JSONObject = {"code": getattr(exc, "code", "export_failed"), "message": str(exc)}
        async with rt.db.write() as conn:
            await store.update_export(
                conn, export_id, me, utcnow(), status="failed", error=error, finished_at=utcnow()
            )


def asked(export: EvidenceExportRecord) -> JSONObject:
    """What an export was asked for: run ids, or a query (not the runs it resolved to)."""
    return {k: v for k, v in export["query"].items() if k != "resolved_run_ids"}


def _hash_file(path: Path) -> tuple[str, int]:
    sha, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


async def resume_stale(rt: Runtime) -> list[str]:
    """Take over the exports whose builder stopped beating, and build them here; their ids."""
    me, now = rt.engine.executor_id, utcnow()
    async with rt.db.read() as conn:
        stale = await store.stale_exports(conn, now, rt.settings.executor_dead_after)
    taken: list[str] = []
    for export in stale:
        async with rt.db.write() as conn:
            won = await store.claim_export(conn, export, me, now)
        if not won:
            continue
        log.warning(
            "evidence export %s taken over from %s, whose builder stopped",
            export["id"],
            export["owner"],
            extra={"export": export["id"], "previous": export["owner"]},
        )
        builder = Principal(
            export["tenant_id"], export["created_by_key_id"] or "system", role="admin", via="system"
        )
        _spawn(rt, export["id"], builder)
        taken.append(export["id"])
    return taken


async def get_export(rt: Runtime, who: Principal, export_id: str) -> EvidenceExportRecord:
    """One export of the tenant (admins)."""
    who.require(Permission.GOVERN)
    async with rt.db.read() as conn:
        export = await store.get_export(conn, who.tenant_id, export_id)
    if export is None:
        raise NotFound(f"export {export_id} not found")
    return export


async def list_exports(
    rt: Runtime, who: Principal, limit: int, continuation_token: str | None
) -> tuple[list[EvidenceExportRecord], str | None]:
    """A page of the tenant's exports, newest first (admins)."""
    who.require(Permission.GOVERN)
    after = decode_token(continuation_token) if continuation_token else None
    async with rt.db.read() as conn:
        rows = await store.list_exports(conn, who.tenant_id, limit, after)
    return page_of(rows, limit)


async def drop_exports_before(rt: Runtime, tenant_id: str, cutoff: datetime, limit: int) -> int:
    """Remove the tenant's exports finished before ``cutoff`` (the retention sweep's part):
    their rows, then their zips; a crash in between leaves only an unnamed file."""
    async with rt.db.write() as conn:
        old = await store.finished_before(conn, tenant_id, cutoff, limit)
        await store.delete_exports(conn, tenant_id, [e["id"] for e in old])
    for export in old:
        if export["location"]:
            await anyio.to_thread.run_sync(
                partial(Path(export["location"]).unlink, missing_ok=True)
            )
    return len(old)


async def open_export(
    rt: Runtime, who: Principal, export_id: str
) -> tuple[IO[bytes], EvidenceExportRecord]:
    """A finished export's zip, opened for reading (audited as a download)."""
    export = await get_export(rt, who, export_id)
    if export["status"] != "succeeded" or not export["location"]:
        raise Conflict(
            f"export {export_id} is {export['status']}: it can be downloaded once it has succeeded",
            [{"name": "export_id", "value": export_id}],
        )
    try:
        out = await anyio.to_thread.run_sync(open, export["location"], "rb")
    except FileNotFoundError:
        raise Gone(
            f"export {export_id}'s file is not on this server (it was removed, or made on "
            "another machine without a shared data folder)",
            [{"name": "export_id", "value": export_id}],
        ) from None
    async with rt.db.write() as conn:
        await audit.record(
            conn,
            who,
            "evidence.downloaded",
            "evidence_export",
            export_id,
            {"bytes": export["bytes"]},
        )
    return out, export
