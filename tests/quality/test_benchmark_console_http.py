"""The console's benchmark pages over HTTP: run page panel (score, save as case), the
benchmark page ("Run suite"), and a suite run's per-case rows with a side-by-side diff."""

import html
import re
import uuid

import httpx
import pytest
from fastapi import FastAPI

from runplane.console.views.benchmarks import side_by_side
from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.testing.console import browser_and_api, csrf_of

pytestmark = pytest.mark.timeout(90)


async def notice_of(browser: httpx.AsyncClient, r: httpx.Response) -> tuple[str, str]:
    """Follow a console action's redirect: the page's URL and the notice it shows."""
    assert r.status_code == 303, r.text
    page = await browser.get(r.headers["location"])
    assert page.status_code == 200, page.text
    found = re.search(r'<p class="notice" role="status">(.*?)</p>', page.text)
    return r.headers["location"], html.unescape(found.group(1)) if found else ""


async def test_save_a_run_as_a_case_score_it_and_run_the_suite_from_the_console(
    app: FastAPI, rt: Runtime
) -> None:
    key = await auth.create_key(rt.db, f"bc-{uuid.uuid4().hex[:10]}", None, "admin")
    async with browser_and_api(app, key) as (browser, api):
        scorers = [{"type": "exact"}, {"type": "latency", "max_ms": 60000}]
        bench = (
            await api.post(
                "/v1/benchmarks", json={"agent_id": "echo", "name": "echoes", "scorers": scorers}
            )
        ).json()
        run = (
            await api.post("/v1/runs", json={"agent_id": "echo", "input": {"n": 1}, "wait": 20})
        ).json()
        assert run["status"] == "succeeded", run

        page = await browser.get(f"/console/runs/{run['id']}")
        assert 'id="run-benchmarks"' in page.text and "Not scored yet." in page.text
        assert 'aria-label="Save as case"' in page.text and 'aria-label="Score now"' in page.text
        token = csrf_of(page.text)

        saved = await browser.post(
            f"/console/runs/{run['id']}/save-case",
            data={"csrf": token, "benchmark_id": bench["id"], "name": "one"},
        )
        _, notice = await notice_of(browser, saved)
        assert "Saved as case 'one'" in notice
        scored = await browser.post(
            f"/console/runs/{run['id']}/score", data={"csrf": token, "benchmark_id": bench["id"]}
        )
        _, notice = await notice_of(browser, scored)
        assert notice.startswith("Scored: the run did not pass")  # exact, with no reference
        panel = (await browser.get(f"/console/runs/{run['id']}")).text
        assert panel.count("data-result=") == 1 and "manual" in panel

        # A second case that the run cannot meet: its diff shows the changed line.
        await api.post(
            f"/v1/benchmarks/{bench['id']}/cases",
            json={"name": "two", "input": {"n": 2}, "expected": {"n": 3}},
        )
        page = await browser.get(f"/console/benchmarks/{bench['id']}")
        assert page.status_code == 200 and "2 cases" in page.text
        assert 'aria-label="Run suite"' in page.text and ">one</th>" in page.text
        started = await browser.post(
            f"/console/benchmarks/{bench['id']}/runs", data={"csrf": csrf_of(page.text), "revision_id": ""}
        )  # fmt: skip
        url, notice = await notice_of(browser, started)
        assert "2 cases" in notice
        suite_id = url.rsplit("/", 1)[1]
        done = await api.get(f"/v1/benchmarks/{bench['id']}/runs/{suite_id}", params={"wait": 60})
        assert done.json()["status"] == "succeeded", done.text

        page = await browser.get(url)
        text = page.text
        assert 'id="suite-verdict"' in text
        rows = dict(
            re.findall(
                r'<tr data-case="[^"]+" data-passed="(\w+)">\s*<th scope="row">(\w+)</th>', text
            )
        )
        assert sorted(rows.values()) == ["one", "two"]
        assert {v: k for k, v in rows.items()} == {"one": "true", "two": "false"}
        assert text.count('aria-label="Side-by-side diff"') == 2
        assert re.search(
            r'<td class="del"><pre>\s*&#34;n&#34;: 3</pre></td><td class="add"><pre>\s*&#34;n&#34;: 2</pre>',
            text,
        )

        listing = await browser.get(f"/console/benchmarks/{bench['id']}")
        assert f'data-suite="{suite_id}"' in listing.text
        quality = await browser.get("/console/agents/echo/quality")
        assert 'id="quality-data"' in quality.text


async def test_a_viewer_sees_scores_but_no_actions(app: FastAPI, rt: Runtime) -> None:
    tenant = f"bc-{uuid.uuid4().hex[:10]}"
    admin = await auth.create_key(rt.db, tenant, None, "admin")
    viewer = await auth.create_key(rt.db, tenant, None, "viewer")
    async with browser_and_api(app, admin) as (_, api):
        bench = (
            await api.post(
                "/v1/benchmarks",
                json={
                    "agent_id": "echo",
                    "name": "b",
                    "scorers": [{"type": "regex", "pattern": "n"}],
                },
            )
        ).json()
        run = (
            await api.post("/v1/runs", json={"agent_id": "echo", "input": {"n": 1}, "wait": 20})
        ).json()
        assert (
            await api.post(f"/v1/runs/{run['id']}/score", json={"benchmark_id": bench["id"]})
        ).status_code == 201
    async with browser_and_api(app, viewer) as (browser, _):
        page = await browser.get(f"/console/runs/{run['id']}")
        assert "data-result=" in page.text and ">pass</td>" in page.text
        assert (
            'aria-label="Save as case"' not in page.text
            and 'aria-label="Score now"' not in page.text
        )
        bpage = await browser.get(f"/console/benchmarks/{bench['id']}")
        assert bpage.status_code == 200 and 'aria-label="Run suite"' not in bpage.text
        refused = await browser.post(
            f"/console/runs/{run['id']}/score", data={"csrf": csrf_of(page.text), "benchmark_id": bench["id"]}
        )  # fmt: skip
        assert refused.status_code == 403


@pytest.mark.database_independent
def test_the_side_by_side_diff_pairs_changed_lines() -> None:
    rows = side_by_side("a\nb\nc", "a\nB\nc\nd")
    assert rows == [("same", "a", "a"), ("changed", "b", "B"), ("same", "c", "c"), ("add", "", "d")]
    assert side_by_side({"x": 1}, {"x": 1}) == [
        ("same", "{", "{"),
        ("same", '  "x": 1', '  "x": 1'),
        ("same", "}", "}"),
    ]
