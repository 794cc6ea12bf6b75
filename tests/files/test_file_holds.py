"""Legal holds on files over HTTP: admins put and release them (audited), the file's JSON
shows them, and a held file is not deleted (API, console); the client and the CLI."""

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from typer.testing import CliRunner

from runplane import AsyncClient
from runplane.cli import app as cli
from runplane.client import RunplaneAPIError
from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.testing.console import sign_in


async def uploaded(api: httpx.AsyncClient, name: str = "evidence.txt") -> dict[str, Any]:
    site = await api.post("/v1/sites", json={"name": f"s-{uuid.uuid4().hex[:6]}"})
    assert site.status_code == 201, site.text
    r = await api.post(
        "/v1/files", data={"site_id": site.json()["id"]}, files={"file": (name, b"the facts\n")}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_a_held_file_is_not_deleted_until_released(api: httpx.AsyncClient) -> None:
    f = await uploaded(api)
    assert f["hold"] is None
    r = await api.post(f"/v1/files/{f['id']}/hold", json={"reason": "matter 2026-17"})
    assert r.status_code == 200, r.text
    hold = r.json()["hold"]
    assert hold["reason"] == "matter 2026-17" and hold["by"] and hold["at"]
    assert (await api.get(f"/v1/files/{f['id']}")).json()["hold"] == hold
    listed = (await api.get("/v1/files")).json()["items"]
    assert listed[0]["hold"] == hold

    refused = await api.delete(f"/v1/files/{f['id']}")
    assert refused.status_code == 409
    assert (
        "legal hold" in refused.json()["message"] and "matter 2026-17" in refused.json()["message"]
    )
    again = await api.post(f"/v1/files/{f['id']}/hold", json={"reason": "another"})
    assert again.status_code == 409 and "already on hold" in again.json()["message"]

    released = await api.delete(f"/v1/files/{f['id']}/hold")
    assert released.status_code == 200 and released.json()["hold"] is None
    assert (await api.delete(f"/v1/files/{f['id']}/hold")).status_code == 409
    assert (await api.delete(f"/v1/files/{f['id']}")).status_code == 204

    events = (await api.get("/v1/audit-events")).json()["items"]
    actions = [(e["action"], e["target_id"]) for e in events if e["target_type"] == "file"]
    assert [a for a, _ in actions] == [
        "file.deleted",
        "file.released",
        "file.held",
        "file.uploaded",
    ]
    assert {i for _, i in actions} == {f["id"]}


async def test_only_admins_hold_and_bad_holds_are_refused(
    api: httpx.AsyncClient, make_client: Callable[..., Any]
) -> None:
    f = await uploaded(api)
    member = await make_client("member")
    other_f = await uploaded(member)
    r = await member.post(f"/v1/files/{other_f['id']}/hold", json={"reason": "mine"})
    assert r.status_code == 403
    assert (await member.delete(f"/v1/files/{other_f['id']}/hold")).status_code == 403
    empty = await api.post(f"/v1/files/{f['id']}/hold", json={"reason": ""})
    assert empty.status_code == 422 and "reason" in empty.text
    blank = await api.post(f"/v1/files/{f['id']}/hold", json={"reason": "   "})
    assert blank.status_code == 422 and "reason" in blank.text
    assert (await api.post(f"/v1/files/{f['id']}/hold", json={})).status_code == 422
    nobody = await api.post("/v1/files/fil_nothing/hold", json={"reason": "x"})
    assert nobody.status_code == 404
    # Another tenant's file is not found, not held.
    foreign = await api.post(f"/v1/files/{other_f['id']}/hold", json={"reason": "x"})
    assert foreign.status_code == 404
    assert (await api.get(f"/v1/files/{f['id']}")).json()["hold"] is None


async def test_the_console_refuses_to_delete_a_held_file(app: FastAPI, rt: Runtime) -> None:
    key = await auth.create_key(rt.db, f"h-{uuid.uuid4().hex[:10]}", None, "admin")
    transport = httpx.ASGITransport(app=app)
    base = "http://runplane.test"
    async with (
        httpx.AsyncClient(transport=transport, base_url=base, timeout=30) as browser,
        httpx.AsyncClient(
            transport=transport, base_url=base, headers={"Authorization": f"Bearer {key}"}
        ) as api,
    ):
        assert (await sign_in(browser, key)).status_code == 303
        f = await uploaded(api)
        await api.post(f"/v1/files/{f['id']}/hold", json={"reason": "audit 9"})
        page = await browser.get("/console/files")
        assert "On hold: audit 9" in page.text
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        r = await browser.post(f"/console/files/{f['id']}/delete", data={"csrf": token[1]})
        assert r.status_code == 303
        shown = (await browser.get("/console/files")).text
        assert "Not deleted: file" in shown and "legal hold" in shown
        assert (await api.get(f"/v1/files/{f['id']}")).status_code == 200


async def test_the_async_client_holds_and_releases(app: FastAPI, rt: Runtime) -> None:
    key = await auth.create_key(rt.db, f"t-{uuid.uuid4().hex[:10]}", None, "admin")
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("http://runplane.test", key, transport=transport) as client:
        await client.sites.create("legal")
        f = await client.files.upload("legal", "memo.txt", b"memo", "text/plain")
        held = await client.files.hold(f.id, "case 4")
        assert held.hold is not None and held.hold.reason == "case 4"
        try:
            await client.files.delete(f.id)
            raise AssertionError("a held file was deleted")
        except RunplaneAPIError as exc:
            assert exc.status_code == 409
        assert (await client.files.release(f.id)).hold is None
        await client.files.delete(f.id)


def test_the_cli_holds_and_releases(live_server: Any, tmp_path: Path) -> None:
    runner = CliRunner(
        env={"RUNPLANE_URL": live_server.url, "RUNPLANE_API_KEY": live_server.key, "COLUMNS": "250"}
    )
    site = f"cli-hold-{uuid.uuid4().hex[:6]}"
    assert runner.invoke(cli, ["sites", "create", site]).exit_code == 0
    memo = tmp_path / "memo.txt"
    memo.write_bytes(b"memo " + uuid.uuid4().hex.encode())
    up = runner.invoke(cli, ["files", "upload", str(memo), "--site", site])
    assert up.exit_code == 0, up.output
    file_id = re.search(r"(fil_\w+)", up.output)
    assert file_id
    held = runner.invoke(cli, ["files", "hold", file_id[1], "--reason", "case 12"])
    assert held.exit_code == 0 and "on hold" in held.output, held.output
    assert "case 12" in runner.invoke(cli, ["files", "ls", "--site", site]).output
    refused = runner.invoke(cli, ["files", "rm", file_id[1]])
    assert refused.exit_code == 1 and "legal hold" in refused.output
    released = runner.invoke(cli, ["files", "release", file_id[1]])
    assert released.exit_code == 0 and "released" in released.output
    assert runner.invoke(cli, ["files", "rm", file_id[1]]).exit_code == 0
