"""The console's activity page over HTTP: a console action shows as the console, filters
as a GET form, "Older" pages, downloads carrying the filters, admins only."""

import csv
import html
import io
import json
import re
import uuid
from datetime import timedelta

import httpx
from activity_rows import admin_of, seed
from fastapi import FastAPI

from runplane.domain.models import utcnow
from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.testing.console import browser_and_api, csrf_of

PAGE = "/console/governance/activity"


async def new_key(rt: Runtime, role: str = "admin", tenant: str | None = None) -> str:
    return await auth.create_key(rt.db, tenant or f"c-{uuid.uuid4().hex[:10]}", None, role)


def rows_of(page: httpx.Response) -> list[str]:
    """The ids of the activity rows on a page, in order."""
    return re.findall(r'data-activity="(aud_\w+)"', page.text)


async def test_a_console_action_shows_who_did_it_and_how(app: FastAPI, rt: Runtime) -> None:
    async with browser_and_api(app, await new_key(rt)) as (browser, api):
        run = (
            await api.post("/v1/runs", json={"agent_id": "echo", "input": {}, "wait": 10})
        ).json()
        runs_page = await browser.get("/console/runs")
        form = {"action": "archive", "run_ids": [run["id"]], "csrf": csrf_of(runs_page.text)}
        assert (await browser.post("/console/runs/bulk", data=form)).status_code == 303

        page = await browser.get(PAGE)
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert 'aria-current="page">Activity' in page.text.replace("\n", "")
        assert "run.archived" in text and "run.created" in text
        assert 'class="badge a-console"' in page.text and 'class="badge a-api"' in page.text
        assert f'href="/console/runs/{run["id"]}"' in page.text

        filtered = await browser.get(PAGE, params={"action": "run.archived"})
        assert len(rows_of(filtered)) == 1 and "a-console" in filtered.text
        none = await browser.get(PAGE, params={"actor": "system"})
        assert rows_of(none) == [] and "No activity matches" in none.text


async def test_older_pages_and_downloads_carry_the_filters(app: FastAPI, rt: Runtime) -> None:
    async with browser_and_api(app, await new_key(rt)) as (browser, api):
        site = (await api.post("/v1/sites", json={"name": "docs"})).json()
        who = await admin_of(api, rt)
        await seed(rt, who, 105, utcnow() - timedelta(hours=2))  # 70 of them run.created

        first = await browser.get(PAGE, params={"action": "run."})
        assert len(rows_of(first)) == 50
        older = re.search(r'href="([^"]+)" rel="next">Older', first.text)
        assert older, "a full page links to the older rows"
        second = await browser.get(html.unescape(older[1]))
        assert len(rows_of(second)) == 20 and not set(rows_of(second)) & set(rows_of(first))
        assert 'rel="next"' not in second.text and ">Newest<" in second.text
        assert site["id"] not in second.text  # the filter held on the older page

        links = re.findall(r'href="(/console/governance/activity\.(?:csv|jsonl)[^"]*)"', first.text)
        assert [html.unescape(link) for link in links] == [
            "/console/governance/activity.csv?action=run.",
            "/console/governance/activity.jsonl?action=run.",
        ]
        got = await browser.get(html.unescape(links[0]))
        assert got.status_code == 200 and got.headers["content-disposition"].startswith(
            "attachment"
        )
        table = list(csv.DictReader(io.StringIO(got.text, newline="")))
        assert len(table) == 70 and {r["action"] for r in table} == {"run.created"}
        lines = (await browser.get(html.unescape(links[1]))).text.splitlines()
        assert [json.loads(line)["id"] for line in lines] == [r["id"] for r in table]


async def test_bad_times_say_what_is_wrong(app: FastAPI, rt: Runtime) -> None:
    async with browser_and_api(app, await new_key(rt)) as (browser, _):
        late = {"since": "2030-01-02T00:00:00", "until": "2030-01-01T00:00:00"}
        page = await browser.get(PAGE, params=late)
        assert page.status_code == 422 and "since is after until" in page.text
        garbled = await browser.get(PAGE, params={"since": "last tuesday"})
        assert garbled.status_code == 422 and "not a date and time" in html.unescape(garbled.text)
        assert (await browser.get(f"{PAGE}.csv", params=late)).status_code == 422


async def test_a_non_admin_is_told_it_needs_an_admin_key(app: FastAPI, rt: Runtime) -> None:
    async with browser_and_api(app, await new_key(rt, "member")) as (browser, _):
        for url in (PAGE, f"{PAGE}.csv", f"{PAGE}.jsonl"):
            page = await browser.get(url)
            assert page.status_code == 403, url
            assert "needs an admin key" in page.text and "text/html" in page.headers["content-type"]
