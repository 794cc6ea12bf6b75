"""Sites and files through the Python clients (async in-process, sync live) and the CLI."""

import hashlib
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from runplane import AsyncClient, Client
from runplane.client import RunplaneAPIError
from runplane.services import auth
from runplane.services.runtime import Runtime

RUNPLANE = str(Path(sys.executable).parent / "runplane")

pytestmark = pytest.mark.timeout(60)


async def test_the_async_client_uploads_lists_downloads_and_deletes(
    app: FastAPI, rt: Runtime
) -> None:
    key = await auth.create_key(rt.db, f"t-{uuid.uuid4().hex[:10]}", None, "admin")
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("http://runplane.test", key, transport=transport) as client:
        site = await client.sites.create("docs", "what the agents read")
        assert (await client.sites.get("docs")).id == site.id
        f = await client.files.upload("docs", "notes.md", b"# Notes\n", "text/markdown")
        assert f.media_type == "text/markdown" and f.site_id == site.id
        assert [x.id for x in (await client.files.list(site_id=site.id)).items] == [f.id]
        assert await client.files.download(f.id) == b"# Notes\n"
        with pytest.raises(RunplaneAPIError) as refused:
            await client.files.upload("docs", "fake.png", b"not a picture", "image/png")
        assert refused.value.status_code == 422
        run = await client.runs.create("artifacts", {"parts": 1}, wait=20, file_ids=[f.id])
        assert run.status == "succeeded" and run.file_ids == [f.id]
        saved = (await client.runs.files(run.id)).items
        assert [s.name for s in saved] == ["part-1.txt"]
        await client.files.delete(f.id)
        await client.sites.delete(site.id)
        assert (await client.sites.list()).items == []


def cli(live: Any, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPLANE_")}
    env.update(RUNPLANE_URL=live.url, RUNPLANE_API_KEY=live.key, COLUMNS="200")
    done = subprocess.run(
        [RUNPLANE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def test_the_cli_and_the_sync_client_manage_sites_and_files(
    live_server: Any, tmp_path: Path
) -> None:
    site = f"cli-{uuid.uuid4().hex[:8]}"
    data = b"region,total\nnorth,3\nsouth,5\n"
    (tmp_path / "totals.csv").write_bytes(data)
    assert site in cli(live_server, "sites", "create", site, cwd=tmp_path).stdout
    up = cli(live_server, "files", "upload", "totals.csv", "--site", site, cwd=tmp_path)
    assert "text/csv" in up.stdout and hashlib.sha256(data).hexdigest()[:12] in up.stdout
    with Client(live_server.url, live_server.key) as client:
        f = client.files.list(site_id=site).items[0]
        run = client.runs.create("read_files", {}, wait=20, site_ids=[site])
        assert run.result is not None
        assert run.result.content["files"][0]["read_sha256"] == f.sha256
        made = client.runs.create("artifacts", {"parts": 1}, wait=20)
    listed = cli(live_server, "files", "ls", "--site", site, cwd=tmp_path).stdout
    assert f.id in listed and "totals.csv" in listed
    assert "part-1.txt" in cli(live_server, "runs", "files", made.id, cwd=tmp_path).stdout
    out = tmp_path / "copy.csv"
    cli(live_server, "files", "download", f.id, "-o", str(out), cwd=tmp_path)
    assert out.read_bytes() == data
    cli(live_server, "files", "rm", f.id, cwd=tmp_path)
    cli(live_server, "sites", "rm", site, cwd=tmp_path)
    with Client(live_server.url, live_server.key) as client:
        assert all(s.name != site for s in client.sites.list().items)
