"""Upload triggers: a file stored into a watched site starts one run that reads it; the
same bytes uploaded again (under any name) start no second run."""

import asyncio
import hashlib
import html
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.testing.console import sign_in


async def new_site(api: httpx.AsyncClient, name: str = "inbox") -> dict:
    r = await api.post("/v1/sites", json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()


async def upload(
    api: httpx.AsyncClient, site: str, name: str, data: bytes, media_type: str | None = None
) -> dict:
    form = {"site_id": site, **({"media_type": media_type} if media_type else {})}
    r = await api.post("/v1/files", files={"file": (name, data)}, data=form)
    assert r.status_code == 201, r.text
    return r.json()


async def upload_trigger(api: httpx.AsyncClient, **body: object) -> dict:
    r = await api.post(
        "/v1/triggers", json={"kind": "upload", "agent_id": "read_files", "input": {}, **body}
    )
    assert r.status_code == 201, r.text
    return r.json()


async def runs_of(api: httpx.AsyncClient, trigger_id: str) -> list[dict]:
    r = await api.get("/v1/runs", params={"trigger_id": trigger_id, "limit": 100})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_a_matching_upload_starts_one_run_that_reads_the_file(
    api: httpx.AsyncClient,
) -> None:
    site = await new_site(api)
    made = await upload_trigger(
        api,
        site_id="inbox",  # by name: kept as the site's id
        glob="*.csv",
        media_type="text/*",
        input={"why": "new data"},
        variables={"team": "finance"},
    )
    assert made["site_id"] == site["id"]
    assert (made["glob"], made["media_type"]) == ("*.csv", "text/*")
    assert made["hook_url"] is None and made["next_fire_times"] == []
    data = b"month,sales\njan,10\nfeb,12\n"
    landed = await upload(api, site["id"], "Sales.CSV", data)
    # Recorded before the upload's answer: listed at once.
    [run] = await runs_of(api, made["id"])
    assert run["trigger"] == "upload" and run["trigger_id"] == made["id"]
    assert run["file_ids"] == [landed["id"]] and not run["site_ids"]
    assert run["input"] == {"why": "new data"} and run["variables"] == {"team": "finance"}
    done = (await api.get(f"/v1/runs/{run['id']}", params={"wait": 20})).json()
    assert done["status"] == "succeeded", done
    [read] = done["result"]["content"]["files"]
    assert read["id"] == landed["id"] and read["name"] == "Sales.CSV"
    assert read["read_sha256"] == hashlib.sha256(data).hexdigest()
    shown = (await api.get(f"/v1/triggers/{made['id']}")).json()
    assert shown["last_run_id"] == run["id"] and shown["last_fired_at"] is not None


async def test_a_file_of_another_name_type_or_site_starts_nothing(api: httpx.AsyncClient) -> None:
    site, other = await new_site(api), await new_site(api, "elsewhere")
    by_name = await upload_trigger(api, site_id=site["id"], glob="sales-*.csv")
    by_type = await upload_trigger(api, site_id=site["id"], media_type="image/png")
    await upload(api, site["id"], "notes.csv", b"a,b\n1,2\n")  # neither name nor type
    await upload(api, other["id"], "sales-jan.csv", b"a,b\n3,4\n")  # another site
    assert await runs_of(api, by_name["id"]) == []
    assert await runs_of(api, by_type["id"]) == []
    await upload(api, site["id"], "sales-feb.csv", b"a,b\n5,6\n")  # the name fits
    assert len(await runs_of(api, by_name["id"])) == 1
    assert await runs_of(api, by_type["id"]) == []


async def test_the_same_content_uploaded_twice_starts_one_run(api: httpx.AsyncClient) -> None:
    site = await new_site(api)
    made = await upload_trigger(api, site_id=site["id"])
    data = b"the very same bytes"
    first = await upload(api, site["id"], "a.txt", data)
    await upload(api, site["id"], "a.txt", data)  # the same name again
    await upload(api, site["id"], "renamed.txt", data)  # another name
    [run] = await runs_of(api, made["id"])
    assert run["file_ids"] == [first["id"]]
    await upload(api, site["id"], "a.txt", b"new bytes under an old name")
    assert len(await runs_of(api, made["id"])) == 2


async def test_the_same_content_uploaded_at_once_starts_one_run(api: httpx.AsyncClient) -> None:
    site = await new_site(api)
    made = await upload_trigger(api, site_id=site["id"])
    data = b"two senders, one file"
    landed = await asyncio.gather(
        *(upload(api, site["id"], f"copy-{i}.txt", data) for i in range(4))
    )
    [run] = await runs_of(api, made["id"])
    assert run["file_ids"][0] in {f["id"] for f in landed}


async def test_a_disabled_trigger_starts_none_until_enabled(api: httpx.AsyncClient) -> None:
    site = await new_site(api)
    made = await upload_trigger(api, site_id=site["id"], enabled=False)
    await upload(api, site["id"], "one.txt", b"one")
    assert await runs_of(api, made["id"]) == []
    assert (await api.post(f"/v1/triggers/{made['id']}/enable")).status_code == 200
    await upload(api, site["id"], "two.txt", b"two")
    assert len(await runs_of(api, made["id"])) == 1


async def test_a_trigger_of_another_tenant_does_not_see_the_upload(
    api: httpx.AsyncClient, make_client
) -> None:
    other = await make_client()
    site, theirs = await new_site(api), await new_site(other)
    assert site["name"] == theirs["name"] == "inbox"
    mine = await upload_trigger(api, site_id=site["id"])
    await upload(other, theirs["id"], "x.txt", b"theirs")
    assert await runs_of(api, mine["id"]) == []
    r = await other.post(
        "/v1/triggers", json={"kind": "upload", "agent_id": "read_files", "site_id": site["id"]}
    )
    assert r.status_code == 422 and r.json()["details"][0]["name"] == "site_id"


async def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    api: httpx.AsyncClient,
) -> None:
    site = await new_site(api)
    base = {"kind": "upload", "agent_id": "read_files", "site_id": site["id"]}
    for extra, field in [
        ({"site_id": None}, "site_id"),
        ({"site_id": "no-such-site"}, "site_id"),
        ({"glob": "reports/*.csv"}, "glob"),
        ({"glob": "[abc.csv"}, "glob"),
        ({"glob": " "}, "glob"),
        ({"media_type": "csv"}, "media_type"),
        ({"media_type": "*/*"}, "media_type"),
        ({"media_type": "text/csv/x"}, "media_type"),
        ({"schedule": "* * * * *"}, "schedule"),
        ({"timezone": "UTC"}, "timezone"),
        ({"mapping": {"q": "/q"}}, "mapping"),
        ({"agent_id": "no_such_agent"}, "agent_id"),
    ]:
        r = await api.post("/v1/triggers", json={**base, **extra})
        assert r.status_code in (404, 422), (extra, r.text)
        assert r.json()["details"][0]["name"] == field, (extra, r.text)
    # Upload fields on the other kinds are refused too.
    schedule = {"kind": "schedule", "agent_id": "read_files", "schedule": "* * * * *"}
    r = await api.post("/v1/triggers", json={**schedule, "glob": "*.csv"})
    assert r.status_code == 422 and r.json()["details"][0]["name"] == "glob"
    r = await api.post(
        "/v1/triggers", json={"kind": "webhook", "agent_id": "echo", "site_id": site["id"]}
    )
    assert r.status_code == 422 and r.json()["details"][0]["name"] == "site_id"
    assert (await api.get("/v1/triggers")).json()["items"] == []
    await upload(api, site["id"], "x.txt", b"nothing listens")
    assert (await api.get("/v1/runs")).json()["items"] == []


async def test_patching_the_glob_or_site_is_checked_and_takes_effect(
    api: httpx.AsyncClient,
) -> None:
    site, other = await new_site(api), await new_site(api, "other")
    made = await upload_trigger(api, site_id=site["id"], glob="*.txt")
    path = f"/v1/triggers/{made['id']}"
    for body, field in [
        ({"glob": "a/b"}, "glob"),
        ({"media_type": "nope"}, "media_type"),
        ({"site_id": "gone"}, "site_id"),
        ({"schedule": "* * * * *"}, "schedule"),
    ]:
        r = await api.patch(path, json=body)
        assert r.status_code == 422 and r.json()["details"][0]["name"] == field, r.text
    r = await api.patch(path, json={"site_id": "other", "glob": "*.csv"})
    assert r.status_code == 200, r.text
    assert (r.json()["site_id"], r.json()["glob"]) == (other["id"], "*.csv")
    await upload(api, site["id"], "a.csv", b"old site")
    await upload(api, other["id"], "b.txt", b"wrong name")
    assert await runs_of(api, made["id"]) == []
    await upload(api, other["id"], "c.csv", b"x\n1\n")
    assert len(await runs_of(api, made["id"])) == 1


RUNPLANE = str(Path(sys.executable).parent / "runplane")


def cli(live: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPLANE_")}
    env |= {"RUNPLANE_URL": live.url, "RUNPLANE_API_KEY": live.key, "COLUMNS": "200"}
    done = subprocess.run(
        [RUNPLANE, *args], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.mark.timeout(60)
def test_the_cli_makes_an_upload_trigger_that_a_cli_upload_fires(
    live_server: Any, tmp_path: Path
) -> None:
    site = f"drop-{uuid.uuid4().hex[:6]}"
    assert cli(live_server, "sites", "create", site).returncode == 0
    made = cli(
        live_server,
        "triggers", "create", "upload", "read_files",
        "--site", site, "--glob", "*.csv", "--media-type", "text/csv", "--input", "{}",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "*.csv" in made.stdout and "text/csv" in made.stdout
    trigger_id = next(w for w in made.stdout.split() if w.startswith("trg_"))
    (tmp_path / "q1.csv").write_bytes(b"m,n\njan,1\n")
    (tmp_path / "notes.txt").write_bytes(b"not a csv")
    up = cli(live_server, "files", "upload", "--site", site, str(tmp_path / "q1.csv"))
    assert up.returncode == 0, up.stderr
    other = cli(live_server, "files", "upload", "--site", site, str(tmp_path / "notes.txt"))
    assert other.returncode == 0, other.stderr
    with live_server.client() as client:
        runs = client.get("/v1/runs", params={"trigger_id": trigger_id}).json()["items"]
    assert [r["trigger"] for r in runs] == ["upload"]
    listed = cli(live_server, "triggers", "ls", "--kind", "upload")
    assert trigger_id in listed.stdout and runs[0]["id"] in listed.stdout
    bad = cli(live_server, "triggers", "create", "upload", "read_files", "--site", "nope")
    assert bad.returncode == 1 and "site_id" in bad.stderr


async def test_the_console_makes_an_upload_trigger_and_lists_what_it_watches(
    app: FastAPI, rt: Runtime
) -> None:
    key = await auth.create_key(rt.db, f"c-{uuid.uuid4().hex[:10]}", None, "admin")
    transport = httpx.ASGITransport(app=app)
    base = "http://runplane.test"
    async with (
        httpx.AsyncClient(transport=transport, base_url=base, timeout=30) as browser,
        httpx.AsyncClient(
            transport=transport, base_url=base, headers={"Authorization": f"Bearer {key}"}
        ) as api,
    ):
        assert (await sign_in(browser, key)).status_code == 303
        site = await new_site(api, "drop")
        page = await browser.get("/console/triggers")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token and 'value="upload"' in page.text
        form = {"kind": "upload", "agent": "read_files", "input_json": "{}", "csrf": token[1]}
        bad = await browser.post("/console/triggers", data={**form, "site": "nope"})
        assert bad.status_code == 422 and "no site" in html.unescape(bad.text)
        made = await browser.post(
            "/console/triggers", data={**form, "site": "drop", "glob": "*.csv"}
        )
        assert made.status_code == 200, made.text
        (trigger,) = (await api.get("/v1/triggers")).json()["items"]
        assert (trigger["site_id"], trigger["glob"]) == (site["id"], "*.csv")
        listed = html.unescape((await browser.get("/console/triggers")).text)
        assert "upload of *.csv" in re.sub(r"<[^>]+>", "", listed)
        assert f"/v1/triggers/{trigger['id']}/hook" not in listed
