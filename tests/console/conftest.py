"""Browser fixtures: real Chromium (Debian's, never a downloaded one) against a live server.

One browser for the module, a fresh context (cookies, storage) per test, and a fresh
tenant per test, so the pages a test looks at hold only the runs it made.
"""

import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from runplane.testing.server import create_key

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 800}
DOCS = Path(__file__).resolve().parents[2] / "docs"
SCREENSHOTS = os.environ.get("RUNPLANE_SCREENSHOTS") == "1"
TERMINAL = ("succeeded", "failed", "canceled")


@dataclass
class Tenant:
    """A tenant of the live server: its admin key and an API client for setting up runs."""

    url: str
    key: str
    api: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.api = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=30
        )

    def start(self, agent: str, input: Any = None, **extra: Any) -> dict[str, Any]:
        """Start a run through the HTTP API; ``wait=…`` holds until it ends."""
        body = {"agent_id": agent, "input": {} if input is None else input, **extra}
        r = self.api.post("/v1/runs", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def run(self, run_id: str) -> dict[str, Any]:
        r = self.api.get(f"/v1/runs/{run_id}")
        assert r.status_code == 200, r.text
        return r.json()

    def until(self, run_id: str, *statuses: str, timeout: float = 20) -> dict[str, Any]:
        """The run once its status is one of ``statuses`` (any end, if none given)."""
        wanted = statuses or TERMINAL
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if run["status"] in wanted:
                return run
            assert time.monotonic() < deadline, f"{run_id} stayed {run['status']}, not {wanted}"
            time.sleep(0.05)

    def pending_approvals(self, run_id: str) -> list[dict[str, Any]]:
        r = self.api.get("/v1/approvals", params={"run_id": run_id, "status": "pending"})
        assert r.status_code == 200, r.text
        return list(r.json()["items"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, launched once. Missing? ``make test`` installs it; fail loudly.

    Module-scoped, not session-scoped: while Playwright's sync API is started, its event
    loop counts as running in this thread, so every async test after it would fail with
    "Runner.run() cannot be called from a running event loop". One module uses it.
    """
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), (
        f"{CHROMIUM} is missing: run `make chromium` (or `apt-get install -y chromium`)"
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def new_tenant(live_server: Any) -> Any:
    """Make a tenant of one's own on the live server (admin key)."""

    def make() -> Tenant:
        key = create_key(live_server.database_url, tenant=f"console-{uuid.uuid4().hex[:10]}")
        return Tenant(live_server.url, key)

    return make


@pytest.fixture
def tenant(new_tenant: Any) -> Iterator[Tenant]:
    """A fresh tenant, so the console shows only this test's runs."""
    t: Tenant = new_tenant()
    yield t
    t.api.close()


@pytest.fixture
def context(browser: Any, live_server: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) whose relative URLs go to the live server."""
    ctx = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def sign_in(context: Any) -> Any:
    """Open a new page of the context, signed in to the console with a key.

    Posts the login form through the context (its cookies are the page's), which is
    faster than typing; signing in by hand is a test of its own.
    """

    def open_page(key: str) -> Any:
        form = context.request.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text())
        assert token, "no CSRF token on the sign-in form"
        r = context.request.post(
            "/console/login", form={"api_key": key, "csrf": token.group(1)}, max_redirects=0
        )
        assert r.status == 303, r.text()
        pg = context.new_page()
        pg.on("dialog", lambda dialog: dialog.accept())  # confirm() of destructive buttons
        return pg

    return open_page


@pytest.fixture
def page(sign_in: Any, tenant: Tenant) -> Any:
    """A page of a browser signed in to the console as ``tenant``."""
    return sign_in(tenant.key)


@pytest.fixture
def screenshot() -> Any:
    """Save a page as ``docs/<name>`` (1280×800) when ``RUNPLANE_SCREENSHOTS=1``."""

    def save(page: Any, name: str) -> None:
        if SCREENSHOTS:
            page.screenshot(path=str(DOCS / name), full_page=False)

    return save
