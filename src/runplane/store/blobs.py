"""Where files' bytes live: a small interface, over the database or a local folder.

A blob's key is ``<tenant>/<sha256>``: the same content uploaded twice in a tenant is
kept once, and no key is shared across tenants. ``RUNPLANE_FILE_STORE`` picks the store:
``db`` (the default: the ``blobs`` table, on SQLite and Postgres alike) or
``fs:/path`` (a folder; every process that serves files must see the same one) or
``s3://bucket/prefix`` (S3-compatible object storage, with the optional ``boto3``:
``pip install 'runplane[s3]'``).
"""

import hashlib
import os
import re
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, cast

import anyio
import sqlalchemy as sa

from runplane.store.db import Database
from runplane.store.dialect import insert_if_absent
from runplane.store.schema import blobs

_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def blob_key(tenant_id: str, sha256: str) -> str:
    """The key of a tenant's blob with this content hash."""
    return f"{tenant_id}/{sha256}"


class BlobStore(Protocol):
    """Keeps bytes by key; ``put`` of a key already there keeps the first."""

    async def put(self, key: str, data: bytes) -> None:
        """Keep ``data`` under ``key`` (written durably before this returns)."""

    async def get(self, key: str) -> bytes | None:
        """The bytes under ``key``, or None."""

    async def delete(self, key: str) -> None:
        """Forget ``key`` (nothing if it is not there)."""


class DatabaseBlobs:
    """Blobs in the ``blobs`` table of runplane's own database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, key: str, data: bytes) -> None:
        """Insert the blob unless its key is there."""
        async with self.db.write() as conn:
            stmt = insert_if_absent(conn, blobs).values(
                key=key, data=data, created_at=datetime.now(UTC)
            )
            await conn.execute(stmt)

    async def get(self, key: str) -> bytes | None:
        """Read one blob."""
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(blobs.c.data).where(blobs.c.key == key))).first()
        return None if row is None else bytes(row[0])

    async def delete(self, key: str) -> None:
        """Delete one blob."""
        async with self.db.write() as conn:
            await conn.execute(blobs.delete().where(blobs.c.key == key))


class FileSystemBlobs:
    """Blobs as files under a folder: ``<root>/<tenant>/<sha256>``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        # A name that could leave the folder is replaced by its hash.
        safe = [p if _SAFE.match(p) else hashlib.sha256(p.encode()).hexdigest() for p in parts]
        return self.root.joinpath(*safe)

    async def put(self, key: str, data: bytes) -> None:
        """Write the file through a temporary one, so that a reader never sees half."""
        path = self._path(key)

        def write() -> None:
            if path.exists():
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

        await anyio.to_thread.run_sync(write)

    async def get(self, key: str) -> bytes | None:
        """Read the file, if there."""
        path = self._path(key)

        def read() -> bytes | None:
            try:
                return path.read_bytes()
            except FileNotFoundError:
                return None

        return await anyio.to_thread.run_sync(read)

    async def delete(self, key: str) -> None:
        """Remove the file, if there."""
        path = self._path(key)
        await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))


class S3Client(Protocol):
    """The calls of a boto3 S3 client this store makes."""

    def put_object(self, **kwargs: object) -> object:
        """Write an object."""

    def get_object(self, **kwargs: object) -> Mapping[str, object]:
        """Read an object: its ``Body`` is a stream."""

    def delete_object(self, **kwargs: object) -> object:
        """Delete an object."""


class _Stream(Protocol):
    def read(self) -> bytes: ...


class S3Blobs:
    """Blobs as objects of an S3-compatible bucket: ``<prefix>/<tenant>/<sha256>``.

    The endpoint is ``RUNPLANE_S3_ENDPOINT_URL`` (settings; or ``AWS_ENDPOINT_URL``; AWS's own when
    neither is set), the region ``AWS_REGION`` or ``AWS_DEFAULT_REGION``, the keys boto3's
    usual chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, a role).
    boto3 blocks, so each call runs in a worker thread.
    """

    def __init__(self, bucket: str, prefix: str, client: S3Client) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client

    @classmethod
    def from_url(cls, url: str, endpoint: str | None = None) -> "S3Blobs":
        """The store an ``s3://bucket/prefix`` URL names; the rest from the environment."""
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"RUNPLANE_FILE_STORE {url!r} names no bucket: s3://bucket/prefix")
        try:
            import boto3  # noqa: PLC0415 - optional: only this store needs it
        except ImportError:
            raise RuntimeError(
                "RUNPLANE_FILE_STORE=s3://… needs boto3: pip install 'runplane[s3]'"
            ) from None
        endpoint = os.environ.get("RUNPLANE_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint or None, region_name=region or None
        )
        return cls(bucket, prefix, cast(S3Client, client))

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    async def put(self, key: str, data: bytes) -> None:
        """Write the object; the key names its content, so writing it again changes nothing."""
        await anyio.to_thread.run_sync(
            lambda: self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        )

    async def get(self, key: str) -> bytes | None:
        """Read the object, if there."""

        def read() -> bytes | None:
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            except Exception as exc:  # botocore's ClientError: its class is made at run time
                code = getattr(exc, "response", {}).get("Error", {}).get("Code")
                if code in ("NoSuchKey", "404"):
                    return None
                raise
            return bytes(cast(_Stream, answer["Body"]).read())

        return await anyio.to_thread.run_sync(read)

    async def delete(self, key: str) -> None:
        """Delete the object (S3 answers the same whether it was there or not)."""
        await anyio.to_thread.run_sync(
            lambda: self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        )


def open_blob_store(spec: str, db: Database, s3_endpoint_url: str | None = None) -> BlobStore:
    """The store ``RUNPLANE_FILE_STORE`` names: ``db``, ``fs:/path`` or ``s3://bucket/prefix``."""
    if spec == "db":
        return DatabaseBlobs(db)
    if spec.startswith("fs:") and len(spec) > 3:
        root = Path(spec[3:]).expanduser()
        root.mkdir(parents=True, exist_ok=True)
        return FileSystemBlobs(root)
    if spec.startswith("s3://"):
        return S3Blobs.from_url(spec, s3_endpoint_url)
    raise ValueError(
        f"RUNPLANE_FILE_STORE must be 'db', 'fs:/path' or 's3://bucket/prefix', not {spec!r}"
    )
