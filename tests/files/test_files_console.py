"""The console's sites and files page over HTTP: make a site, upload into it (upload
triggers fire), download, delete (refused while a run uses the file), CSRF."""

import hashlib
import html
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.testing.console import browser_and_api
from runplane.testing.console import csrf_of as csrf_in

BASE = "http://runplane.test"
CSV = b"region,amount\nnorth,12\nsouth,30\n"


@asynccontextmanager
async def signed_in(
    app: FastAPI, rt: Runtime, role: str = "admin"
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    key = await auth.create_key(rt.db, f"f-{uuid.uuid4().hex[:10]}", None, role)
    async with browser_and_api(app, key, BASE) as clients:
        yield clients


def csrf_of(page: httpx.Response) -> str:
    return csrf_in(page.text)


def text_of(page: httpx.Response) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page.text))


async def test_make_a_site_upload_into_it_download_and_delete(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as (browser, api):
        page = await browser.get("/console/files")
        assert page.status_code == 200 and "No sites yet" in page.text
        assert 'href="/console/files" aria-current="page"' in page.text
        token = csrf_of(page)
        made = await browser.post("/console/sites", data={"name": "sales", "csrf": token})
        assert made.status_code == 303 and made.headers["location"] == "/console/files"
        (site,) = (await api.get("/v1/sites")).json()["items"]
        assert site["name"] == "sales"
        taken = await browser.post("/console/sites", data={"name": "sales", "csrf": token})
        assert taken.status_code == 422 and "exists" in text_of(taken)

        up = await browser.post(
            "/console/files",
            data={"site": site["id"], "csrf": token},
            files={"file": ("q3.csv", CSV, "text/csv")},
        )
        assert up.status_code == 303, up.text
        notice = text_of(await browser.get("/console/files"))
        assert "Uploaded q3.csv (text/csv" in notice
        (f,) = (await api.get("/v1/files", params={"site_id": site["id"]})).json()["items"]
        assert f["sha256"] == hashlib.sha256(CSV).hexdigest() and f["size"] == len(CSV)
        listed = await browser.get("/console/files")
        body = listed.text
        assert f'href="/console/files/{f["id"]}/content"' in body
        assert f["sha256"][:12] in body and "text/csv" in body and f"{len(CSV)} B" in body
        got = await browser.get(f"/console/files/{f['id']}/content")
        assert got.content == CSV and "q3.csv" in got.headers["content-disposition"]

        gone = await browser.post(f"/console/files/{f['id']}/delete", data={"csrf": token})
        assert gone.status_code == 303
        assert "Deleted." in text_of(await browser.get("/console/files"))
        assert (await api.get(f"/v1/files/{f['id']}")).status_code == 404


async def test_an_upload_fires_the_sites_upload_triggers(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as (browser, api):
        site = (await api.post("/v1/sites", json={"name": "drop"})).json()
        r = await api.post(
            "/v1/triggers",
            json={"kind": "upload", "agent_id": "read_files", "site_id": site["id"], "input": {},
                  "glob": "*.csv"},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        trigger = r.json()
        token = csrf_of(await browser.get("/console/files"))
        up = await browser.post(
            "/console/files",
            data={"site": site["id"], "csrf": token},
            files={"file": ("in.csv", CSV, "text/csv")},
        )
        assert up.status_code == 303, up.text
        (f,) = (await api.get("/v1/files", params={"site_id": site["id"]})).json()["items"]
        runs = (await api.get("/v1/runs", params={"trigger_id": trigger["id"]})).json()["items"]
        assert len(runs) == 1 and runs[0]["trigger"] == "upload"
        assert runs[0]["file_ids"] == [f["id"]]


async def test_bad_uploads_and_forms_are_refused_and_store_nothing(
    app: FastAPI, rt: Runtime
) -> None:
    async with signed_in(app, rt) as (browser, api):
        site = (await api.post("/v1/sites", json={"name": "docs"})).json()
        token = csrf_of(await browser.get("/console/files"))
        no_csrf = await browser.post(
            "/console/files", data={"site": site["id"]}, files={"file": ("a.txt", b"hi")}
        )
        assert no_csrf.status_code == 403
        no_file = await browser.post("/console/files", data={"site": site["id"], "csrf": token})
        assert no_file.status_code == 422 and "file" in text_of(no_file)
        no_site = await browser.post(
            "/console/files", data={"site": "nope", "csrf": token}, files={"file": ("a.txt", b"x")}
        )
        assert no_site.status_code == 422 and "no site 'nope'" in text_of(no_site)
        lying = await browser.post(
            "/console/files",
            data={"site": site["id"], "csrf": token},
            files={"file": ("pic.png", b"not a png at all", "image/png")},
        )
        assert lying.status_code == 422 and "Not uploaded" in text_of(lying)
        bad_name = await browser.post("/console/sites", data={"name": "a/b", "csrf": token})
        assert bad_name.status_code == 422 and "name" in text_of(bad_name)
        assert (await browser.post("/console/sites", data={"name": "x"})).status_code == 403
        assert (await api.get("/v1/files")).json()["items"] == []
        assert len((await api.get("/v1/sites")).json()["items"]) == 1


async def test_a_file_a_running_run_reads_is_not_deleted(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as (browser, api):
        site = (await api.post("/v1/sites", json={"name": "held"})).json()
        f = (
            await api.post(
                "/v1/files", data={"site_id": site["id"]}, files={"file": ("n.txt", b"notes")}
            )
        ).json()
        run = await api.post(
            "/v1/runs",
            json={"agent_id": "call_tools", "approval": "ON_TOOL_CALL", "file_ids": [f["id"]],
                  "input": {"calls": [{"tool": "read_notes", "arguments": {"day": "Monday"}}]}},
        )  # fmt: skip
        assert run.status_code == 201, run.text
        token = csrf_of(await browser.get("/console/files"))
        r = await browser.post(f"/console/files/{f['id']}/delete", data={"csrf": token})
        assert r.status_code == 303
        page = text_of(await browser.get("/console/files"))
        assert f"Not deleted: run {run.json()['id']} uses file {f['id']}" in page
        assert (await api.get(f"/v1/files/{f['id']}")).status_code == 200
        await api.post(f"/v1/runs/{run.json()['id']}/cancel")


async def test_a_reader_sees_the_files_but_no_forms(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt, role="viewer") as (browser, _api):
        page = await browser.get("/console/files")
        assert page.status_code == 200
        assert 'action="/console/sites"' not in page.text
        assert 'action="/console/files"' not in page.text
