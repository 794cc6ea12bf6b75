"""``/healthz`` tells anyone that the server is up, and only an admin key how it is deployed."""

import uuid

import httpx
import pytest
from fastapi import FastAPI

from runplane.services import auth
from runplane.services.runtime import Runtime

BASE = "http://runplane.test"


def client(app: FastAPI, key: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, headers=headers)


def assert_tells_nothing_of_the_deployment(r: httpx.Response, rt: Runtime) -> None:
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"status", "version"} and r.json()["status"] == "ok"
    assert rt.engine.executor_id not in r.text
    assert not any(f'"{name}"' in r.text for name in rt.project.agents)


async def test_anyone_learns_only_that_the_server_is_up(app: FastAPI, rt: Runtime) -> None:
    async with client(app) as anonymous:
        assert_tells_nothing_of_the_deployment(await anonymous.get("/healthz"), rt)


@pytest.mark.parametrize("role", ["member", "approver", "viewer"])
async def test_a_key_that_is_not_an_admin_learns_no_more(
    app: FastAPI, rt: Runtime, role: str
) -> None:
    key = await auth.create_key(rt.db, f"hz-{uuid.uuid4().hex[:10]}", None, role)
    async with client(app, key) as keyed:
        assert_tells_nothing_of_the_deployment(await keyed.get("/healthz"), rt)


async def test_a_wrong_key_is_refused_and_told_nothing(app: FastAPI, rt: Runtime) -> None:
    async with client(app, "rp_not-a-key") as forged:
        r = await forged.get("/healthz")
    assert r.status_code == 401
    assert set(r.json()) == {"status_code", "message", "details"}
    assert rt.engine.executor_id not in r.text and "agents" not in r.text


async def test_an_admin_key_sees_the_executor_and_its_agents(app: FastAPI, rt: Runtime) -> None:
    key = await auth.create_key(rt.db, f"hz-{uuid.uuid4().hex[:10]}", None, "admin")
    async with client(app, key) as admin:
        health = (await admin.get("/healthz")).json()
    assert health["status"] == "ok" and health["executor_id"] == rt.engine.executor_id
    assert {"echo", "steps", "research"} <= set(health["agents"])
    assert health["worker"] is True and isinstance(health["active_runs"], int)
