"""The S3-compatible file store against a real S3 HTTP server (moto's, on a loopback
port): blobs by key under a prefix, and an upload and download through the API."""

import hashlib
import sys
import uuid
from collections.abc import Iterator

import httpx
import pytest

from runplane.services.runtime import Runtime
from runplane.settings import Settings
from runplane.store.blobs import S3Blobs, open_blob_store

boto3 = pytest.importorskip("boto3", reason="the s3 extra (boto3) is not installed")
moto_server = pytest.importorskip("moto.server", reason="moto's server (dev extra) is missing")

BUCKET = "runplane-files"


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    """An S3 server on a free loopback port, with a bucket made; its endpoint URL."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket=BUCKET)
        yield url
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The standard AWS variables and RUNPLANE_S3_ENDPOINT_URL, pointing at the server."""
    monkeypatch.setenv("RUNPLANE_S3_ENDPOINT_URL", s3_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return s3_url


def objects(url: str, prefix: str) -> dict[str, bytes]:
    s3 = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


async def test_the_s3_store_keeps_blobs_by_key_under_its_prefix(s3_env: str, rt: Runtime) -> None:
    prefix = f"p-{uuid.uuid4().hex[:6]}"
    store = open_blob_store(f"s3://{BUCKET}/{prefix}/", rt.db, Settings().s3_endpoint_url)
    assert isinstance(store, S3Blobs)
    await store.put("ten_1/abc", b"first")
    await store.put("ten_1/abc", b"first")  # the key names the content: a rewrite is a no-op
    assert await store.get("ten_1/abc") == b"first"
    assert objects(s3_env, prefix) == {f"{prefix}/ten_1/abc": b"first"}
    assert await store.get("ten_1/missing") is None
    await store.delete("ten_1/abc")
    await store.delete("ten_1/abc")  # deleting what is gone is fine
    assert await store.get("ten_1/abc") is None and objects(s3_env, prefix) == {}


async def test_an_upload_lands_in_the_bucket_and_downloads_from_it(
    s3_env: str, rt: Runtime, api: httpx.AsyncClient
) -> None:
    prefix = f"p-{uuid.uuid4().hex[:6]}"
    kept = rt.blobs
    rt.blobs = open_blob_store(f"s3://{BUCKET}/{prefix}", rt.db, Settings().s3_endpoint_url)
    try:
        site = (await api.post("/v1/sites", json={"name": "s3"})).json()
        data = b"region,total\nnorth,3\n"
        r = await api.post(
            "/v1/files", data={"site_id": site["id"]}, files={"file": ("t.csv", data)}
        )
        assert r.status_code == 201, r.text
        f = r.json()
        sha = hashlib.sha256(data).hexdigest()
        (key,) = objects(s3_env, prefix)
        assert key.startswith(f"{prefix}/") and key.endswith(f"/{sha}")
        got = await api.get(f"/v1/files/{f['id']}/content")
        assert got.status_code == 200 and got.content == data
        assert (await api.delete(f"/v1/files/{f['id']}")).status_code == 204
        assert objects(s3_env, prefix) == {}
    finally:
        rt.blobs = kept


def test_s3_urls_are_checked_and_boto3_is_asked_for_by_name(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings(file_store="s3://bucket/some/prefix").file_store == "s3://bucket/some/prefix"
    with pytest.raises(ValueError, match="file_store"):
        Settings(file_store="s3://")
    with pytest.raises(ValueError, match="names no bucket"):
        S3Blobs.from_url("s3:///prefix")
    monkeypatch.setitem(sys.modules, "boto3", None)  # as if the s3 extra were not installed
    with pytest.raises(RuntimeError, match=r"pip install 'runplane\[s3\]'"):
        open_blob_store("s3://bucket/prefix", rt.db)
