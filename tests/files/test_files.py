"""Sites and files over HTTP: upload, list, download, sniffed types, limits, deletes."""

import csv
import hashlib
import io
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest

from runplane.services.runtime import Runtime
from runplane.store.blobs import FileSystemBlobs

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(40)


async def new_site(api: httpx.AsyncClient, name: str = "reports") -> dict:
    r = await api.post("/v1/sites", json={"name": name, "description": "monthly figures"})
    assert r.status_code == 201, r.text
    return r.json()


async def upload(
    api: httpx.AsyncClient, site: str, name: str, data: bytes, media_type: str | None = None
) -> httpx.Response:
    part = (name, data) if media_type is None else (name, data, media_type)
    return await api.post("/v1/files", files={"file": part}, data={"site_id": site})


def sales_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([["month", "sales"], ["Jan", 10], ["Feb", 14], ["Mar", 9]])
    return out.getvalue().encode()


async def test_a_site_is_created_listed_read_by_id_or_name_and_deleted_when_empty(
    api: httpx.AsyncClient,
) -> None:
    site = await new_site(api)
    assert site["id"].startswith("sit_") and site["object"] == "site"
    assert (await api.post("/v1/sites", json={"name": "reports"})).status_code == 409
    listed = (await api.get("/v1/sites")).json()["items"]
    assert [s["id"] for s in listed] == [site["id"]]
    assert (await api.get("/v1/sites/reports")).json()["id"] == site["id"]
    f = (await upload(api, site["id"], "a.csv", sales_csv())).json()
    refused = await api.delete(f"/v1/sites/{site['id']}")
    assert refused.status_code == 409 and refused.json()["details"][0]["name"] == "site_id"
    assert (await api.delete(f"/v1/files/{f['id']}")).status_code == 204
    assert (await api.delete(f"/v1/sites/{site['id']}")).status_code == 204
    assert (await api.get(f"/v1/sites/{site['id']}")).status_code == 404


async def test_an_upload_is_listed_and_downloads_the_same_bytes_with_its_hash(
    api: httpx.AsyncClient,
) -> None:
    site = await new_site(api)
    data = sales_csv()
    r = await upload(api, site["id"], "sales.csv", data)
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["id"].startswith("fil_") and f["name"] == "sales.csv"
    assert f["media_type"] == "text/csv" and f["size"] == len(data)
    assert f["sha256"] == hashlib.sha256(data).hexdigest() and f["site_id"] == site["id"]
    assert (await api.get(f"/v1/files/{f['id']}")).json() == f
    listed = (await api.get("/v1/files", params={"site_id": site["id"]})).json()
    assert [x["id"] for x in listed["items"]] == [f["id"]]
    got = await api.get(f"/v1/files/{f['id']}/content")
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"].startswith("text/csv")
    assert 'filename="sales.csv"' in got.headers["content-disposition"]
    assert hashlib.sha256(got.content).hexdigest() == f["sha256"]


async def test_files_are_paged_newest_first(api: httpx.AsyncClient) -> None:
    site = await new_site(api)
    ids = [
        (await upload(api, site["id"], f"n{i}.txt", f"note {i}".encode())).json()["id"]
        for i in range(3)
    ]
    first = (await api.get("/v1/files", params={"limit": 2})).json()
    assert [x["id"] for x in first["items"]] == ids[:0:-1] and first["continuation_token"]
    rest = await api.get(
        "/v1/files", params={"limit": 2, "continuation_token": first["continuation_token"]}
    )
    assert [x["id"] for x in rest.json()["items"]] == ids[:1]
    assert rest.json()["continuation_token"] is None


async def test_the_media_type_is_told_from_the_content(api: httpx.AsyncClient) -> None:
    site = await new_site(api)
    png = (await upload(api, site["id"], "chart", PNG)).json()
    assert png["media_type"] == "image/png"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    xlsx = (await upload(api, site["id"], "book.bin", buf.getvalue())).json()
    assert xlsx["media_type"].endswith("spreadsheetml.sheet")


async def test_a_declared_type_that_lies_about_the_content_is_refused(
    api: httpx.AsyncClient,
) -> None:
    site = await new_site(api)
    for name, data, declared in [
        ("chart.png", PNG, "application/pdf"),
        ("notes.txt", b"plain words", "image/png"),
        ("chart.csv", PNG, "text/csv"),
    ]:
        r = await upload(api, site["id"], name, data, declared)
        assert r.status_code == 422, (name, r.text)
        assert r.json()["details"] == [{"name": "file", "value": declared}]
    assert (await api.get("/v1/files", params={"site_id": site["id"]})).json()["items"] == []


async def test_a_file_over_the_limit_is_refused_with_413_and_nothing_stored(
    api: httpx.AsyncClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = await new_site(api)
    monkeypatch.setattr(rt.settings, "max_file_bytes", 1000)
    r = await upload(api, site["id"], "big.txt", b"x" * 1001)
    assert r.status_code == 413 and r.json()["details"][0]["name"] == "file"
    assert (await upload(api, site["id"], "fits.txt", b"x" * 1000)).status_code == 201
    names = [f["name"] for f in (await api.get("/v1/files")).json()["items"]]
    assert names == ["fits.txt"]


async def test_bad_uploads_name_their_field(api: httpx.AsyncClient) -> None:
    r = await upload(api, "no-such-site", "a.txt", b"hello")
    assert r.status_code == 422 and r.json()["details"][0]["name"] == "site_id"
    r = await api.post("/v1/files", data={"site_id": "x"})
    assert r.status_code == 422 and "file" in r.text


async def test_another_tenants_file_and_site_are_not_found(
    api: httpx.AsyncClient, make_client
) -> None:
    site = await new_site(api)
    f = (await upload(api, site["id"], "a.txt", b"secret figures")).json()
    other = await make_client()
    for path in (f"/v1/files/{f['id']}", f"/v1/files/{f['id']}/content", f"/v1/sites/{site['id']}"):
        assert (await other.get(path)).status_code == 404, path
    assert (await other.delete(f"/v1/files/{f['id']}")).status_code == 404
    assert (await other.get("/v1/files")).json()["items"] == []
    r = await upload(other, site["id"], "b.txt", b"x")
    assert r.status_code == 422 and r.json()["details"][0]["name"] == "site_id"


async def test_the_same_content_twice_is_two_files_and_one_survives_the_others_delete(
    api: httpx.AsyncClient,
) -> None:
    site = await new_site(api)
    a = (await upload(api, site["id"], "a.txt", b"same bytes")).json()
    b = (await upload(api, site["id"], "b.txt", b"same bytes")).json()
    assert a["id"] != b["id"] and a["sha256"] == b["sha256"]
    assert (await api.delete(f"/v1/files/{a['id']}")).status_code == 204
    assert (await api.get(f"/v1/files/{a['id']}")).status_code == 404
    assert (await api.get(f"/v1/files/{b['id']}/content")).content == b"same bytes"


async def test_a_viewer_reads_files_but_cannot_upload_or_delete_them(make_client) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    admin, viewer = await make_client("admin", tenant), await make_client("viewer", tenant)
    site = await new_site(admin)
    f = (await upload(admin, site["id"], "a.txt", b"readable")).json()
    assert (await viewer.get(f"/v1/files/{f['id']}/content")).content == b"readable"
    assert (await upload(viewer, site["id"], "b.txt", b"no")).status_code == 403
    assert (await viewer.delete(f"/v1/files/{f['id']}")).status_code == 403
    assert (await viewer.post("/v1/sites", json={"name": "mine"})).status_code == 403
    assert [x["id"] for x in (await viewer.get("/v1/files")).json()["items"]] == [f["id"]]


@pytest.mark.database_independent
async def test_the_file_system_store_keeps_blobs_by_key_and_never_leaves_its_folder(
    tmp_path: Path,
) -> None:
    store = FileSystemBlobs(tmp_path)
    await store.put("ten_1/abc", b"first")
    await store.put("ten_1/abc", b"second")  # a key already there keeps the first
    assert await store.get("ten_1/abc") == b"first"
    assert (tmp_path / "ten_1" / "abc").read_bytes() == b"first"
    await store.put("../outside/x", b"kept inside")
    assert not (tmp_path.parent / "outside").exists()
    assert await store.get("../outside/x") == b"kept inside"
    await store.delete("ten_1/abc")
    assert await store.get("ten_1/abc") is None
