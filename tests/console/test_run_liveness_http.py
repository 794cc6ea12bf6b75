"""The console shows a running run's liveness, and lets an admin repair a lost one."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from test_run_page_http import run_status, signed_in, start_run

from runplane.domain.events import GENESIS
from runplane.domain.ids import new_id
from runplane.domain.models import utcnow
from runplane.services.runtime import Runtime
from runplane.store import runs as store
from runplane.store.runs import Chain, Move
from runplane.testing.console import csrf_of


async def _lost_run(rt: Runtime, template_id: str) -> dict[str, Any]:
    """A running run held by an executor with no heartbeat row: its worker is gone."""
    async with rt.db.read() as conn:
        row = await store.get_run(conn, None, template_id)
    assert row is not None
    keep = ("tenant_id", "agent_id", "agent_name", "revision_id", "trigger", "input")
    now = utcnow()
    new = {k: row[k] for k in keep} | {"variables": {}, "context": {}, "metadata": {}}
    new |= {
        "id": new_id("run"),
        "status": "queued",
        "last_hash": GENESIS,
        "timeout_seconds": 3600.0,
        "admitted_at": now - timedelta(minutes=1),
        "created_at": now - timedelta(minutes=1),
        "updated_at": now,
    }
    async with rt.db.write() as conn:
        run = await store.insert_run(conn, new)
        await store.move_run(
            conn,
            run["id"],
            Chain(run["last_seq"], run["last_hash"]),
            "queued",
            before=Move("running"),  # type: ignore[arg-type]
            fields={"started_at": now, "owner": f"gone-{run['id'][-6:]}", "epoch": 1},
        )
    return dict(run)


async def test_a_lost_run_shows_its_badge_and_an_admin_fails_it_from_its_page(
    app: FastAPI, rt: Runtime
) -> None:
    async with signed_in(app, rt) as (browser, key):
        template = await start_run(app, key, "steps", input={"steps": 1})
        run = await _lost_run(rt, template["id"])

        listing = await browser.get("/console/runs")
        assert listing.status_code == 200
        row = listing.text.split(f'data-run="{run["id"]}"')[1].split("</tr>")[0]
        assert 'data-liveness="lost"' in row and ">Lost</span>" in row

        page = await browser.get(f"/console/runs/{run['id']}")
        assert page.status_code == 200
        assert 'data-liveness="lost"' in page.text
        assert "This run is lost" in page.text
        assert 'id="repair-form"' in page.text

        r = await browser.post(
            f"/console/runs/{run['id']}/repair",
            data={"csrf": csrf_of(page.text), "action": "fail", "reason": "its host is gone"},
        )
        assert r.status_code == 303, r.text
        ended = await run_status(app, key, run["id"])
        assert ended["status"] == "failed" and ended["error"]["code"] == "repaired"
        assert "its host is gone" in ended["error"]["message"]
        again = await browser.get(f"/console/runs/{run['id']}")
        assert "data-liveness" not in again.text and 'id="repair-form"' not in again.text


@pytest.mark.parametrize("role", ["member", "viewer"])
async def test_only_admins_get_the_repair_form(app: FastAPI, rt: Runtime, role: str) -> None:
    tenant = f"rp-{uuid.uuid4().hex[:10]}"
    async with signed_in(app, rt, tenant=tenant) as (_, key):
        template = await start_run(app, key, "steps", input={"steps": 1})
        run = await _lost_run(rt, template["id"])
        async with signed_in(app, rt, role=role, tenant=tenant) as (browser, _):
            page = await browser.get(f"/console/runs/{run['id']}")
            assert page.status_code == 200
            assert 'data-liveness="lost"' in page.text
            assert 'id="repair-form"' not in page.text
            r = await browser.post(
                f"/console/runs/{run['id']}/repair",
                data={"csrf": csrf_of(page.text), "action": "resume", "reason": "try"},
            )
            assert r.status_code == 403, r.text
        # Not left running: an admin fails it.
        async with signed_in(app, rt, tenant=tenant) as (admin, _):
            page = await admin.get(f"/console/runs/{run['id']}")
            data = {"csrf": csrf_of(page.text), "action": "fail", "reason": "test over"}
            assert (await admin.post(f"/console/runs/{run['id']}/repair", data=data)).is_redirect
