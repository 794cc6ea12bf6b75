"""The console's Policy and Legal holds tabs over HTTP, and a run page's policy and holds."""

import html
import json
import uuid

from fastapi import FastAPI

from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.testing.console import browser_and_api, csrf_of


async def keys(rt: Runtime, *roles: str) -> list[str]:
    tenant = f"gc-{uuid.uuid4().hex[:10]}"
    return [await auth.create_key(rt.db, tenant, None, role) for role in roles]


async def test_the_policy_is_edited_as_json_with_field_errors_and_versions(
    app: FastAPI, rt: Runtime
) -> None:
    (admin,) = await keys(rt, "admin")
    async with browser_and_api(app, admin) as (browser, api):
        page = await browser.get("/console/governance/policy")
        assert page.status_code == 200 and 'aria-current="page">Policy' in page.text
        assert "Version <strong>1</strong> is in force" in page.text
        csrf = csrf_of(page.text)
        bad = {
            "retention": {"runs": {"days": 10}},
            "holds": [{"name": "h", "reason": "r", "keep_days": 20}],
        }
        r = await browser.post(
            "/console/governance/policy",
            data={"document": json.dumps(bad), "comment": "x", "base_version": "1", "csrf": csrf},
        )
        assert r.status_code == 422
        text = html.unescape(r.text)
        assert "<code>retention.runs.days</code>" in text and '"keep_days": 20' in text
        r = await browser.post(
            "/console/governance/policy", data={"document": "{nope", "csrf": csrf}
        )
        assert r.status_code == 422 and "not JSON" in r.text
        r = await browser.post(
            "/console/governance/policy",
            data={"document": json.dumps({"retention": {"runz": {}}}), "csrf": csrf},
        )
        assert r.status_code == 422 and "retention.runz" in html.unescape(r.text)
        assert (await api.get("/v1/governance/policy")).json()["version"] == 1
        good = {"deletion": {"min_age_days": 7}}
        r = await browser.post(
            "/console/governance/policy",
            data={
                "document": json.dumps(good),
                "comment": "a week",
                "base_version": "1",
                "csrf": csrf,
            },
        )
        assert r.status_code == 303
        after = (await browser.get("/console/governance/policy")).text
        assert "Policy version 2 is in force." in after and 'data-version="2"' in after
        assert "a week" in after
        old = await browser.get("/console/governance/policy", params={"version": 1})
        assert 'id="policy-version-view"' in old.text
        stale = await browser.post(
            "/console/governance/policy",
            data={"document": json.dumps(good), "base_version": "1", "csrf": csrf},
        )
        assert stale.status_code == 422 and "not 1" in stale.text
        missing = await browser.post("/console/governance/policy", data={"document": "{}"})
        assert missing.status_code == 403  # no CSRF token
        assert (await api.get("/v1/governance/policy")).json()["version"] == 2


async def test_holds_are_added_and_released_and_shown_on_the_run_page(
    app: FastAPI, rt: Runtime
) -> None:
    admin, viewer = await keys(rt, "admin", "viewer")
    async with browser_and_api(app, admin) as (browser, api):
        run = (
            await api.post("/v1/runs", json={"agent_id": "echo", "input": {}, "wait": 10})
        ).json()
        assert run["policy_version"] == 1
        page = await browser.get("/console/governance/holds")
        assert page.status_code == 200 and "No active holds" in page.text
        csrf = csrf_of(page.text)
        r = await browser.post(
            "/console/governance/holds",
            data={
                "scope": "query",
                "target": "echo",
                "status": "failed",
                "reason": "q",
                "csrf": csrf,
            },
        )
        assert r.status_code == 422 and "matches no run" in r.text
        r = await browser.post(
            "/console/governance/holds",
            data={"scope": "run", "target": run["id"], "reason": "matter 77", "csrf": csrf},
        )
        assert r.status_code == 303
        listed = (await browser.get("/console/governance/holds")).text
        assert "keeps 1 run(s)" in listed and "matter 77" in listed
        hold_id = (await api.get("/v1/governance/holds")).json()["items"][0]["id"]
        run_page = html.unescape((await browser.get(f"/console/runs/{run['id']}")).text)
        assert "On legal hold" in run_page and "matter 77" in run_page
        assert (
            'id="run-policy-version"><a href="/console/governance/policy?version=1">1</a>'
            in run_page
        )
        refused = await browser.post(
            "/console/runs/bulk", data={"action": "delete", "run_ids": run["id"], "csrf": csrf}
        )
        notice = html.unescape((await browser.get(refused.headers["location"])).text)
        assert "legal hold" in notice and hold_id in notice
        r = await browser.post(f"/console/governance/holds/{hold_id}/release", data={"csrf": csrf})
        assert r.status_code == 303
        assert "released" in (await browser.get("/console/governance/holds")).text
        assert "On legal hold" not in (await browser.get(f"/console/runs/{run['id']}")).text
    async with browser_and_api(app, viewer) as (browser, _):
        assert (await browser.get("/console/governance/holds")).status_code == 403
        seen = await browser.get("/console/governance/policy")
        assert seen.status_code == 200 and 'id="policy-form"' not in seen.text
