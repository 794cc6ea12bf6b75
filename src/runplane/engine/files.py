"""Files in a run: the ones it was given to read (``ctx.files``) and the ones it saves.

A saved file (``ctx.file``) belongs to the step it was saved in (or, between steps, to
the step before; 0 before the first). It is saved once: its record is unique per run,
step and name, so a step replayed after a crash, or reused by a rerun (whose earlier
steps' files are copied with them, store/files.copy_to_rerun), finds it instead of
saving it again.
"""

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from runplane.domain.errors import Invalid, RunError
from runplane.domain.events import FileCreatedData
from runplane.domain.ids import new_id
from runplane.domain.json import JSONObject
from runplane.domain.media import media_type_of
from runplane.domain.models import FileRecord, RunRecord, utcnow
from runplane.engine.journal import Journal
from runplane.store import files as files_store
from runplane.store.blobs import BlobStore, blob_key
from runplane.store.db import Database


@dataclass(frozen=True)
class FileHandle:
    """A file a run reads or saved: its metadata, and ``await handle.read()`` for its bytes."""

    id: str
    name: str
    media_type: str
    size: int
    sha256: str
    site_id: str | None
    step: int | None
    _blobs: BlobStore = field(repr=False, compare=False)
    _key: str = field(repr=False, compare=False)

    async def read(self) -> bytes:
        """The file's bytes."""
        data = await self._blobs.get(self._key)
        if data is None:
            raise RunError(f"the content of file {self.id} is missing", code="file_missing")
        return data

    async def text(self, encoding: str = "utf-8") -> str:
        """The file's bytes as text."""
        return (await self.read()).decode(encoding)

    def describe(self) -> JSONObject:
        """The file as the API shows it."""
        return {
            "id": self.id,
            "name": self.name,
            "media_type": self.media_type,
            "size": self.size,
            "sha256": self.sha256,
            "site_id": self.site_id,
            "step": self.step,
        }


def handle(row: FileRecord, blobs: BlobStore) -> FileHandle:
    """A handle on a file's record."""
    return FileHandle(
        id=row["id"],
        name=row["name"],
        media_type=row["media_type"],
        size=row["size"],
        sha256=row["sha256"],
        site_id=row["site_id"],
        step=row["step"],
        _blobs=blobs,
        _key=blob_key(row["tenant_id"], row["sha256"]),
    )


async def input_files(db: Database, blobs: BlobStore, run: RunRecord) -> list[FileHandle]:
    """The files a run reads: its ``file_ids`` in order, then its sites' files.

    A site's files are those uploaded until the run was created, so that every attempt
    of the run (and its replay after a crash) sees the same list.
    """
    file_ids, site_ids = run.get("file_ids") or [], run.get("site_ids") or []
    if not file_ids and not site_ids:
        return []
    async with db.read() as conn:
        named = {r["id"]: r for r in await files_store.get_many(conn, run["tenant_id"], file_ids)}
        in_sites = await files_store.in_sites(
            conn, run["tenant_id"], site_ids, before=run["created_at"]
        )
    rows = [named[i] for i in file_ids if i in named]
    seen = set(named)
    rows += [r for r in in_sites if r["id"] not in seen]
    return [handle(r, blobs) for r in rows]


class RunFiles:
    """Saves a run's files: durable, once per step and name."""

    def __init__(self, db: Database, blobs: BlobStore, run: RunRecord, journal: Journal) -> None:
        self.db = db
        self.blobs = blobs
        self.run_id = run["id"]
        self.tenant_id = run["tenant_id"]
        self.journal = journal

    async def save(
        self, name: str, data: bytes | bytearray | str | os.PathLike[str], media_type: str | None
    ) -> FileHandle:
        """Save a file on the current step, or return the one a replay of it saved."""
        journal = self.journal
        op, step = journal.next_op(), journal.artifact_step()
        if not name or "/" in name or len(name) > 255:
            raise RunError(f"a file's name must be 1-255 characters without '/': {name!r}")
        async with self.db.read() as conn:
            row = await files_store.of_step(conn, self.tenant_id, self.run_id, step, name)
        if row is None:
            content = await _bytes_of(data)
            try:
                kind = media_type_of(content, media_type, name, field="media_type")
            except Invalid as exc:
                raise RunError(str(exc), code="invalid_file") from None
            sha = hashlib.sha256(content).hexdigest()
            row = {
                "id": new_id("fil"),
                "tenant_id": self.tenant_id,
                "site_id": None,
                "run_id": self.run_id,
                "step": step,
                "name": name,
                "media_type": kind,
                "size": len(content),
                "sha256": sha,
                "created_at": utcnow(),
            }
            await self.blobs.put(blob_key(self.tenant_id, sha), content)
            async with self.db.write() as conn:
                if not await files_store.insert(conn, row):
                    # Another attempt of this step saved it first: that one stands.
                    found = await files_store.of_step(conn, self.tenant_id, self.run_id, step, name)
                    assert found is not None
                    row = found
        saved = handle(row, self.blobs)
        event: FileCreatedData = {
            "id": saved.id,
            "name": saved.name,
            "media_type": saved.media_type,
            "size": saved.size,
            "sha256": saved.sha256,
            "step": step,
        }
        journal.emit_at(op, "file.created", event)
        journal.files.append(saved.describe())
        await journal.flush()
        return saved


async def _bytes_of(data: bytes | bytearray | str | os.PathLike[str]) -> bytes:
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    path = Path(data)
    return await anyio.to_thread.run_sync(path.read_bytes)
