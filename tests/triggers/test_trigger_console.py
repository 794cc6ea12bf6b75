"""The console's triggers page over HTTP: list, make (a webhook's secret shown once),
disable, pause."""

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


@asynccontextmanager
async def signed_in(
    app: FastAPI, rt: Runtime
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    key = await auth.create_key(rt.db, f"c-{uuid.uuid4().hex[:10]}", None, "admin")
    async with browser_and_api(app, key, BASE) as clients:
        yield clients


def csrf_of(page: httpx.Response) -> str:
    return csrf_in(page.text)


async def test_the_page_makes_lists_and_changes_triggers(app: FastAPI, rt: Runtime) -> None:
    async with signed_in(app, rt) as (browser, api):
        page = await browser.get("/console/triggers")
        assert page.status_code == 200 and "No triggers yet" in page.text
        token = csrf_of(page)
        made = await browser.post(
            "/console/triggers",
            data={"kind": "schedule", "agent": "echo", "schedule": "0 9 * * *",
                  "timezone": "Europe/Paris", "input_json": '{"message": "hi"}', "csrf": token},
        )  # fmt: skip
        assert made.status_code == 200, made.text
        (schedule,) = (await api.get("/v1/triggers")).json()["items"]
        assert schedule["timezone"] == "Europe/Paris" and schedule["input"] == {"message": "hi"}
        hook = await browser.post(
            "/console/triggers",
            data={"kind": "webhook", "agent": "echo", "mapping": "message=/text", "csrf": token},
        )
        secret = re.search(r"(whsec_[A-Za-z0-9+/=]+)", html.unescape(hook.text))
        assert secret, "the webhook's secret is shown once"
        listed = html.unescape((await browser.get("/console/triggers")).text)
        assert schedule["id"] in listed and "0 9 * * *" in listed and "whsec_" not in listed
        bad = await browser.post(
            "/console/triggers",
            data={"kind": "schedule", "agent": "echo", "schedule": "nope", "csrf": token},
        )
        assert bad.status_code == 422 and "Not made" in bad.text
        r = await browser.post(f"/console/triggers/{schedule['id']}/pause", data={"csrf": token})
        assert r.status_code == 303
        assert (await api.get(f"/v1/triggers/{schedule['id']}")).json()["paused"] is True
        r = await browser.post(f"/console/triggers/{schedule['id']}/disable", data={"csrf": token})
        assert r.status_code == 303
        assert (await api.get(f"/v1/triggers/{schedule['id']}")).json()["enabled"] is False
        assert len((await api.get("/v1/triggers")).json()["items"]) == 2
