"""Audit & Governance > Exports over HTTP: start, progress, download; keys; a run's bundle."""

import asyncio
import html
import re
import uuid

from evidence_helpers import members, public_keys, start, until
from fastapi import FastAPI

from runplane.domain.evidence import verify_bundle
from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.testing.console import browser_and_api, csrf_of


async def test_an_admin_exports_from_the_console_and_downloads_a_valid_bundle(
    app: FastAPI, rt: Runtime
) -> None:
    admin = await auth.create_key(rt.db, f"ex-{uuid.uuid4().hex[:10]}", None, "admin")
    async with browser_and_api(app, admin) as (browser, api):
        run = await until(api, (await start(api, "artifacts", {"parts": 2}))["id"])
        page = await browser.get("/console/governance/exports")
        assert page.status_code == 200
        assert 'aria-current="page">Exports' in page.text and "No exports yet" in page.text
        form = {"run_id": run["id"], "csrf": csrf_of(page.text)}
        started = await browser.post("/console/governance/exports", data=form)
        assert started.status_code == 303
        listed = await browser.get("/console/governance/exports")
        export_id = re.search(r'data-export="(exp_[^"]+)"', listed.text).group(1)  # type: ignore[union-attr]
        assert f"Export {export_id} started: 1 run." in html.unescape(listed.text)
        for _ in range(300):
            progress = (
                await browser.get(f"/console/governance/exports/{export_id}/progress")
            ).json()
            if progress["status"] == "succeeded":
                break
            await asyncio.sleep(0.05)
        assert progress == {**progress, "runs_done": 1, "runs_total": 1}
        done = await browser.get("/console/governance/exports")
        assert f"/console/governance/exports/{export_id}/download" in done.text
        assert "<progress" in done.text and "BEGIN PUBLIC KEY" in done.text
        got = await browser.get(f"/console/governance/exports/{export_id}/download")
        assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
        assert verify_bundle(got.content, await public_keys(api)).ok

        run_page = await browser.get(f"/console/runs/{run['id']}")
        assert f'href="/console/runs/{run["id"]}/evidence"' in run_page.text
        own = await browser.get(f"/console/runs/{run['id']}/evidence")
        assert own.status_code == 200
        assert f"runs/{run['id']}/run.json" in members(own.content)

        key_ids = re.findall(r'data-key="(sgk_[^"]+)"', done.text)
        rotate = {"csrf": csrf_of(done.text)}
        assert (
            await browser.post("/console/governance/keys/rotate", data=rotate)
        ).status_code == 303
        after = await browser.get("/console/governance/exports")
        assert "is now active" in html.unescape(after.text)
        assert len(re.findall(r'data-key="(sgk_[^"]+)"', after.text)) == len(key_ids) + 1


async def test_bad_console_exports_say_why_and_members_see_keys_only(
    app: FastAPI, rt: Runtime
) -> None:
    tenant = f"ex-{uuid.uuid4().hex[:10]}"
    admin = await auth.create_key(rt.db, tenant, None, "admin")
    member = await auth.create_key(rt.db, tenant, None, "member")
    async with browser_and_api(app, admin) as (browser, _):
        page = await browser.get("/console/governance/exports")
        form = {"agent": "artifacts", "since": "2099-01-01", "csrf": csrf_of(page.text)}
        refused = await browser.post("/console/governance/exports", data=form)
        assert refused.status_code == 422
        assert "Not started: the query matches no ended run" in html.unescape(refused.text)
        bad_date = {**form, "since": "yesterday"}
        assert (
            "since is a date"
            in (await browser.post("/console/governance/exports", data=bad_date)).text
        )
        missing = await browser.get("/console/governance/exports/exp_nope/progress")
        assert missing.status_code == 404
    async with browser_and_api(app, member) as (browser, api):
        run = await until(api, (await start(api, "echo", {"a": 1}))["id"])
        page = await browser.get("/console/governance/exports")
        assert page.status_code == 200 and "Only admin keys export evidence" in page.text
        assert "Rotate the signing key" not in page.text
        forbidden = await browser.post(
            "/console/governance/exports", data={"run_id": run["id"], "csrf": csrf_of(page.text)}
        )
        assert forbidden.status_code == 422 and "may not do this" in forbidden.text
        own = await browser.get(f"/console/runs/{run['id']}/evidence")
        assert own.status_code == 200 and verify_bundle(own.content).ok
