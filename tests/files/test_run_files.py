"""Runs read files (``file_ids``, ``site_ids``) through ``ctx.files``, over HTTP."""

import asyncio
import hashlib

import httpx


async def new_site(api: httpx.AsyncClient, name: str) -> dict:
    r = await api.post("/v1/sites", json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()


async def upload(api: httpx.AsyncClient, site: str, name: str, data: bytes) -> dict:
    r = await api.post("/v1/files", files={"file": (name, data)}, data={"site_id": site})
    assert r.status_code == 201, r.text
    return r.json()


async def run(api: httpx.AsyncClient, agent: str, **body: object) -> httpx.Response:
    return await api.post("/v1/runs", json={"agent_id": agent, "input": {}, **body})


async def test_a_run_reads_its_files_and_its_sites_files_through_ctx_files(
    api: httpx.AsyncClient,
) -> None:
    inbox, archive = await new_site(api, "inbox"), await new_site(api, "archive")
    loose = await upload(api, inbox["id"], "loose.txt", b"one file on its own")
    a = await upload(api, archive["id"], "a.csv", b"x,y\n1,2\n")
    b = await upload(api, archive["id"], "b.csv", b"x,y\n3,4\n")
    r = await run(api, "read_files", file_ids=[loose["id"]], site_ids=["archive"], wait=20)
    assert r.status_code == 201, r.text
    done = r.json()
    assert done["status"] == "succeeded", done
    assert done["file_ids"] == [loose["id"]] and done["site_ids"] == [archive["id"]]
    files = done["result"]["content"]["files"]
    assert [f["id"] for f in files] == [loose["id"], a["id"], b["id"]]
    assert [f["name"] for f in files] == ["loose.txt", "a.csv", "b.csv"]
    assert all(f["read_sha256"] == f["sha256"] for f in files)
    assert files[1]["media_type"] == "text/csv" and files[1]["site_id"] == archive["id"]
    assert files[0]["sha256"] == hashlib.sha256(b"one file on its own").hexdigest()


async def test_unknown_or_another_tenants_files_and_sites_are_refused_naming_the_field(
    api: httpx.AsyncClient, make_client
) -> None:
    other = await make_client()
    theirs_site = await new_site(other, "theirs")
    theirs = await upload(other, theirs_site["id"], "t.txt", b"not yours")
    before = (await api.get("/v1/runs")).json()["items"]
    for body, field in [
        ({"file_ids": ["fil_nope"]}, "file_ids"),
        ({"file_ids": [theirs["id"]]}, "file_ids"),
        ({"site_ids": ["nope"]}, "site_ids"),
        ({"site_ids": [theirs_site["id"]]}, "site_ids"),
    ]:
        r = await run(api, "read_files", **body)
        assert r.status_code == 422, r.text
        assert r.json()["details"][0]["name"] == field
    assert (await api.get("/v1/runs")).json()["items"] == before


async def test_a_file_is_not_deleted_while_a_run_that_has_not_ended_reads_it(
    api: httpx.AsyncClient,
) -> None:
    site = await new_site(api, "held")
    f = await upload(api, site["id"], "held.txt", b"in use")
    other = await upload(api, site["id"], "other.txt", b"also in use, by its site")
    # The run is held at ON_START until a person approves its plan: it has not ended.
    r = await run(api, "steps", file_ids=[f["id"]], site_ids=[site["id"]], approval="ON_START")
    assert r.status_code == 201, r.text
    live = r.json()
    for fid in (f["id"], other["id"]):
        refused = await api.delete(f"/v1/files/{fid}")
        assert refused.status_code == 409, refused.text
        assert live["id"] in refused.json()["message"]
    assert (await api.delete(f"/v1/sites/{site['id']}")).status_code == 409
    assert (await api.post(f"/v1/runs/{live['id']}/cancel")).status_code == 202
    for _ in range(100):
        if (await api.get(f"/v1/runs/{live['id']}")).json()["status"] == "canceled":
            break
        await asyncio.sleep(0.1)
    assert (await api.delete(f"/v1/files/{f['id']}")).status_code == 204
    assert (await api.get(f"/v1/files/{other['id']}/content")).content.startswith(b"also")


async def test_a_rerun_and_a_duplicate_keep_the_files_they_read(api: httpx.AsyncClient) -> None:
    site = await new_site(api, "kept")
    f = await upload(api, site["id"], "k.txt", b"kept")
    first = (await run(api, "read_files", site_ids=["kept"], wait=20)).json()
    again = await api.post(f"/v1/runs/{first['id']}/rerun", json={"wait": 20})
    assert again.status_code == 201, again.text
    assert again.json()["site_ids"] == [site["id"]]
    assert [x["id"] for x in again.json()["result"]["content"]["files"]] == [f["id"]]
