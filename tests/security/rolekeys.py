"""A tenant with one key of each role (and keys bound to users), as in-process API clients."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from runplane.services import auth
from runplane.services.runtime import Runtime

BASE = "http://runplane.test"
ROLES = ("admin", "member", "approver", "viewer")
NOT_ADMIN = ("member", "approver", "viewer")


class Team:
    """One tenant and its keys: ``team.admin``, ``team.member``, … and ``team.bound(…)``."""

    def __init__(self, app: FastAPI, rt: Runtime) -> None:
        self.app = app
        self.rt = rt
        self.tenant = f"sec-{uuid.uuid4().hex[:10]}"
        self.keys: dict[str, str] = {}
        self._clients: list[httpx.AsyncClient] = []

    async def key(self, role: str, user_id: str | None = None) -> str:
        """A new key of this tenant."""
        return await auth.create_key(self.rt.db, self.tenant, None, role, user_id)

    def client(self, key: str) -> httpx.AsyncClient:
        """An API client sending ``key``."""
        made = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url=BASE,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        self._clients.append(made)
        return made

    async def role(self, role: str) -> httpx.AsyncClient:
        """The tenant's client of ``role`` (one key per role, made on first use)."""
        if role not in self.keys:
            self.keys[role] = await self.key(role)
        return self.client(self.keys[role])

    async def bound(self, role: str, user_id: str) -> httpx.AsyncClient:
        """A client whose key is bound to ``user_id``."""
        return self.client(await self.key(role, user_id))

    async def close(self) -> None:
        """Close every client."""
        for c in self._clients:
            await c.aclose()


@asynccontextmanager
async def team_of(app: FastAPI, rt: Runtime) -> AsyncIterator[Team]:
    """A fresh tenant's team, closed at the end."""
    team = Team(app, rt)
    try:
        yield team
    finally:
        await team.close()


def assert_forbidden(r: httpx.Response) -> None:
    """A 403 in the error model."""
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["status_code"] == 403 and body["message"], body
    assert isinstance(body["details"], list)
