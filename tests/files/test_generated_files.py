"""Files a run's steps save (``ctx.file``), and the office files the ``report`` agent makes."""

import hashlib
import io
import uuid

import docx
import httpx
import openpyxl
import pptx
from fastapi import FastAPI
from PIL import Image

from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.testing.console import csrf_of

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def start(api: httpx.AsyncClient, agent: str, input: object, **body: object) -> dict:
    r = await api.post("/v1/runs", json={"agent_id": agent, "input": input, "wait": 30, **body})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "succeeded", r.json()
    return r.json()


async def content(api: httpx.AsyncClient, file_id: str) -> bytes:
    r = await api.get(f"/v1/files/{file_id}/content")
    assert r.status_code == 200, r.text
    return r.content


async def test_saved_files_appear_with_their_step_in_the_result_and_download(
    api: httpx.AsyncClient,
) -> None:
    run = await start(api, "artifacts", {"parts": 2})
    steps = (await api.get(f"/v1/runs/{run['id']}/steps")).json()["items"]
    assert [[f["name"] for f in s["files"]] for s in steps] == [["part-1.txt"], ["part-2.txt"]]
    listed = (await api.get(f"/v1/runs/{run['id']}/files")).json()["items"]
    assert [(f["name"], f["step"], f["run_id"]) for f in listed] == [
        ("part-1.txt", 1, run["id"]),
        ("part-2.txt", 2, run["id"]),
    ]
    assert [f["id"] for f in run["result"]["files"]] == [f["id"] for f in listed]
    for f, step in zip(listed, steps, strict=True):
        data = await content(api, f["id"])
        assert data.decode() == f"part {step['number']}: {step['output']['nonce']}\n"
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["size"]
        assert f["media_type"] == "text/plain"
    events = (await api.get(f"/v1/runs/{run['id']}/events")).json()["items"]
    created = [e["data"] for e in events if e["type"] == "file.created"]
    assert [(d["name"], d["step"]) for d in created] == [("part-1.txt", 1), ("part-2.txt", 2)]


async def test_a_rerun_from_a_later_step_keeps_the_earlier_steps_files(
    api: httpx.AsyncClient,
) -> None:
    first = await start(api, "artifacts", {"parts": 3})
    before = {
        f["name"]: f for f in (await api.get(f"/v1/runs/{first['id']}/files")).json()["items"]
    }
    r = await api.post(f"/v1/runs/{first['id']}/rerun", json={"from_step": 3, "wait": 30})
    assert r.status_code == 201 and r.json()["status"] == "succeeded", r.text
    rerun = r.json()
    after = (await api.get(f"/v1/runs/{rerun['id']}/files")).json()["items"]
    assert [f["name"] for f in after] == ["part-1.txt", "part-2.txt", "part-3.txt"]
    kept, made = after[:2], after[2]
    for f in kept:  # reused with their steps: the same content, not saved again
        assert f["sha256"] == before[f["name"]]["sha256"] and f["run_id"] == rerun["id"]
        assert await content(api, f["id"]) == await content(api, before[f["name"]]["id"])
    assert made["sha256"] != before["part-3.txt"]["sha256"]  # step 3 ran again
    steps = (await api.get(f"/v1/runs/{rerun['id']}/steps")).json()["items"]
    assert [s["status"] for s in steps] == ["reused", "reused", "completed"]
    assert [len(s["files"]) for s in steps] == [1, 1, 1]
    # The original keeps its own files.
    assert len((await api.get(f"/v1/runs/{first['id']}/files")).json()["items"]) == 3


async def test_a_run_file_can_be_deleted_once_its_run_has_ended(
    api: httpx.AsyncClient,
) -> None:
    run = await start(api, "artifacts", {"parts": 1})
    f = (await api.get(f"/v1/runs/{run['id']}/files")).json()["items"][0]
    assert (await api.delete(f"/v1/files/{f['id']}")).status_code == 204
    assert (await api.get(f"/v1/runs/{run['id']}/files")).json()["items"] == []


def sales(rows: list[tuple[str, int, int]]) -> bytes:
    return ("month,north,south\n" + "".join(f"{m},{n},{s}\n" for m, n, s in rows)).encode()


async def test_the_report_agent_makes_real_office_files_from_a_sites_csv_files(
    api: httpx.AsyncClient,
) -> None:
    r = await api.post("/v1/sites", json={"name": "sales"})
    site = r.json()
    for name, rows in [
        ("q1.csv", [("Jan", 10, 4), ("Feb", 14, 6), ("Mar", 9, 12)]),
        ("q2.csv", [("Apr", 20, 1), ("May", 5, 7), ("Jun", 8, 8)]),
    ]:
        up = await api.post(
            "/v1/files", files={"file": (name, sales(rows))}, data={"site_id": site["id"]}
        )
        assert up.status_code == 201, up.text
    run = await start(api, "report", {"title": "Sales"}, site_ids=["sales"])
    files = {f["name"]: f for f in run["result"]["files"]}
    assert set(files) == {"chart.png", "report.xlsx", "report.docx", "report.pptx"}
    assert files["report.xlsx"]["media_type"] == XLSX

    png = Image.open(io.BytesIO(await content(api, files["chart.png"]["id"])))
    assert png.format == "PNG" and png.size == (800, 450)

    book = openpyxl.load_workbook(io.BytesIO(await content(api, files["report.xlsx"]["id"])))
    assert book.sheetnames == ["Summary", "q1", "q2"]
    summary = [list(r) for r in book["Summary"].iter_rows(values_only=True)]
    assert summary[0] == ["File", "Column", "Total", "Mean", "Best"]
    assert ["q1.csv", "north", 33, 11, "Feb"] in summary
    assert ["q2.csv", "south", 16, 5.33, "Jun"] in summary
    assert [c.value for c in book["q1"][2]] == ["Jan", 10, 4]

    doc = docx.Document(io.BytesIO(await content(api, files["report.docx"]["id"])))
    texts = [p.text for p in doc.paragraphs]
    assert texts[0] == "Sales" and "Summary" in texts
    assert any("north in q1.csv: total 33.0" in t for t in texts)
    assert len(doc.inline_shapes) == 1 and len(doc.tables) == 1

    deck = pptx.Presentation(io.BytesIO(await content(api, files["report.pptx"]["id"])))
    titles = [s.shapes.title.text for s in deck.slides]
    assert titles == ["Sales", "Highlights", "q1.csv"]
    assert any(shape.shape_type == 13 for shape in deck.slides[2].shapes)  # a picture


async def test_the_console_run_page_lists_the_runs_files_with_download_links(
    app: FastAPI, rt: Runtime
) -> None:
    key = await auth.create_key(rt.db, f"rp-{uuid.uuid4().hex[:10]}", None, "member")
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://runplane.test", headers=headers, timeout=30
    ) as api:
        run = await start(api, "artifacts", {"parts": 2})
        files = (await api.get(f"/v1/runs/{run['id']}/files")).json()["items"]
    async with httpx.AsyncClient(
        transport=transport, base_url="http://runplane.test", timeout=30
    ) as browser:
        form = await browser.get("/console/login")
        data = {"api_key": key, "next": "/console/runs", "csrf": csrf_of(form.text)}
        assert (await browser.post("/console/login", data=data)).status_code == 303
        page = (await browser.get(f"/console/runs/{run['id']}")).text
        for f in files:
            assert f'href="/console/files/{f["id"]}/content"' in page and f["name"] in page
        got = await browser.get(f"/console/files/{files[0]['id']}/content")
        assert got.status_code == 200 and got.content.startswith(b"part 1: ")
        assert "attachment" in got.headers["content-disposition"]
    async with httpx.AsyncClient(transport=transport, base_url="http://runplane.test") as anon:
        r = await anon.get(f"/console/files/{files[0]['id']}/content")
        assert r.status_code in (303, 401, 404) and b"part 1" not in r.content
