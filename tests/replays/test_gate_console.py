"""Publishing from the console goes through the replay gate, and says why it was refused."""

import uuid

import pytest
from fastapi import FastAPI
from test_gate import REGRESSED, draft, gated_agent

from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.testing.console import browser_and_api, csrf_of

pytestmark = pytest.mark.timeout(120)


async def test_a_console_publish_refused_by_the_gate_shows_the_reason(
    app: FastAPI, rt: Runtime
) -> None:
    key = await auth.create_key(rt.db, f"t-{uuid.uuid4().hex[:10]}", None, "admin")
    async with browser_and_api(app, key) as (browser, api):
        name, published = await gated_agent(api)
        regressed = await draft(api, name, REGRESSED)
        token = csrf_of((await browser.get(f"/console/agents/{name}")).text)

        posted = await browser.post(
            f"/console/agents/{name}/revisions/{regressed}/publish", data={"csrf": token}
        )

        assert posted.status_code == 303, posted.text
        shown = (await browser.get(posted.headers["location"])).text
        assert "Not published" in shown and "replay gate" in shown
        assert (await api.get(f"/v1/agents/{name}")).json()["published_revision_id"] == published
