"""The activity log through the Python client (every page, an export to a file) and the
CLI (a table, exports with --output)."""

import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from runplane import AsyncClient, Client
from runplane.cli import app as cli
from runplane.client import RunplaneAPIError
from runplane.services import auth
from runplane.services.runtime import Runtime


async def test_the_async_client_pages_through_and_exports_the_activity(
    app: FastAPI, rt: Runtime, tmp_path: Path
) -> None:
    key = await auth.create_key(rt.db, f"c-{uuid.uuid4().hex[:10]}", None, "admin")
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("http://runplane.test", key, transport=transport) as client:
        names = [f"site-{i}" for i in range(5)]
        for name in names:
            await client.sites.create(name)
        page = await client.activity.list(limit=2, resource="site")
        assert len(page.items) == 2 and page.continuation_token
        rows = [row async for row in client.activity.iter(limit=2, action="site.")]
        assert [r.data["name"] for r in rows] == names[::-1]
        assert {r.actor_type for r in rows} == {"api"}
        seen: list[int] = []
        target = tmp_path / "activity.jsonl"
        written = await client.activity.export(target, on_progress=seen.append, action="site.")
        assert written == target.stat().st_size and seen[-1] == written
        exported = [json.loads(line) for line in target.read_text().splitlines()]
        assert [r["id"] for r in exported] == [r.id for r in rows]
        with pytest.raises(RunplaneAPIError) as bad:
            await client.activity.export(tmp_path / "x.csv", format="csv", since="soon")
        assert bad.value.status_code == 422
        with pytest.raises(TypeError):
            await client.activity.list(who="me")


def test_the_cli_shows_a_table_and_exports_files(live_server: Any, tmp_path: Path) -> None:
    env = {"RUNPLANE_URL": live_server.url, "RUNPLANE_API_KEY": live_server.key, "COLUMNS": "250"}
    runner = CliRunner(env=env)
    site = f"cli-activity-{uuid.uuid4().hex[:6]}"
    with Client(live_server.url, live_server.key) as client:
        made = client.sites.create(site)
        client.sites.delete(made.id)
    shown = runner.invoke(cli, ["governance", "activity", "--resource-id", made.id])
    assert shown.exit_code == 0, shown.output
    lines = [line for line in shown.output.splitlines() if made.id in line]
    assert len(lines) == 2 and "site.deleted" in lines[0] and "site.created" in lines[1]
    assert "api" in lines[0]

    out = tmp_path / "site.csv"
    exported = runner.invoke(
        cli,
        [
            "governance",
            "activity",
            "--resource-id",
            made.id,
            "--format",
            "csv",
            "--output",
            str(out),
        ],
    )
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(), newline="")))
    assert [r["action"] for r in rows] == ["site.deleted", "site.created"]
    assert json.loads(rows[1]["data"]) == {"name": site}

    piped = runner.invoke(
        cli, ["governance", "activity", "--resource-id", made.id, "--format", "jsonl"]
    )
    assert piped.exit_code == 0
    assert [json.loads(line)["action"] for line in piped.stdout.splitlines()] == [
        "site.deleted",
        "site.created",
    ]

    bad = runner.invoke(cli, ["governance", "activity", "--since", "2030-01-02T00:00:00Z",
                              "--until", "2030-01-01T00:00:00Z"])  # fmt: skip
    assert bad.exit_code == 1 and "since is after until" in bad.output
