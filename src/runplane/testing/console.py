"""Signing in to the console over HTTP as a browser does, for tests."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.types import ASGIApp


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a console page."""
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


async def sign_in(
    client: httpx.AsyncClient, key: str, next: str = "/console/runs"
) -> httpx.Response:
    """Post the sign-in form with the token of the form it was given; the 303 or error."""
    form = await client.get("/console/login")
    data = {"api_key": key, "next": next, "csrf": csrf_of(form.text)}
    return await client.post("/console/login", data=data)


@asynccontextmanager
async def browser_and_api(
    app: ASGIApp, key: str, base_url: str = "http://runplane.test"
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """A browser-like client signed in to the console with ``key``, and an API client of it."""
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url=base_url, timeout=30) as browser,
        httpx.AsyncClient(
            transport=transport, base_url=base_url, headers={"Authorization": f"Bearer {key}"}
        ) as api,
    ):
        signed = await sign_in(browser, key)
        assert signed.status_code == 303, signed.text
        yield browser, api
