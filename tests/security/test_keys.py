"""API keys over HTTP: admin keys create, list and revoke them; a revoked key fails at once;
every change is an audit event; the CLI lists and revokes through the API."""

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from rolekeys import NOT_ADMIN, Team, assert_forbidden, team_of

from runplane.client import Client
from runplane.services.runtime import Runtime
from runplane.testing.server import create_key

RUNPLANE = str(Path(sys.executable).parent / "runplane")


@pytest.fixture
async def team(app: FastAPI, rt: Runtime) -> AsyncIterator[Team]:
    async with team_of(app, rt) as t:
        yield t


async def listed(admin: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await admin.get("/v1/keys")
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_an_admin_creates_a_key_bound_to_a_user_shown_only_once(team: Team) -> None:
    admin = await team.role("admin")
    r = await admin.post("/v1/keys", json={"name": "dana's", "role": "member", "user_id": "dana"})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["key"].startswith("rp_") and made["prefix"] == made["key"][:10]
    assert made["role"] == "member" and made["user_id"] == "dana" and made["revoked_at"] is None

    dana = team.client(made["key"])
    run = await dana.post("/v1/runs", json={"agent_id": "echo", "input": {}, "wait": 20})
    assert run.status_code == 201 and run.json()["user_id"] == "dana"

    keys = await listed(admin)
    mine = next(k for k in keys if k["id"] == made["id"])
    assert mine["name"] == "dana's" and mine["user_id"] == "dana"
    text = (await admin.get("/v1/keys")).text
    assert made["key"] not in text and "key_hash" not in text and '"key"' not in text


async def test_a_bad_role_is_a_422_naming_it(team: Team) -> None:
    admin = await team.role("admin")
    r = await admin.post("/v1/keys", json={"role": "owner"})
    assert r.status_code == 422 and r.json()["details"][0]["name"] == "role"


@pytest.mark.parametrize("role", NOT_ADMIN)
async def test_only_admin_keys_manage_keys_and_read_the_audit_log(team: Team, role: str) -> None:
    admin, other = await team.role("admin"), await team.role(role)
    before = await listed(admin)
    assert_forbidden(await other.post("/v1/keys", json={"role": "admin"}))
    assert_forbidden(await other.get("/v1/keys"))
    assert_forbidden(await other.delete(f"/v1/keys/{before[0]['id']}"))
    assert_forbidden(await other.get("/v1/audit-events"))
    assert await listed(admin) == before
    assert (await admin.get("/v1/audit-events")).json()["items"] == []


async def test_a_revoked_key_fails_on_its_next_request(team: Team) -> None:
    admin = await team.role("admin")
    made = (await admin.post("/v1/keys", json={"role": "member"})).json()
    doomed = team.client(made["key"])
    assert (await doomed.get("/v1/runs")).status_code == 200  # now in the auth cache

    assert (await admin.delete(f"/v1/keys/{made['id']}")).status_code == 204
    r = await doomed.get("/v1/runs")
    assert r.status_code == 401 and r.json()["status_code"] == 401
    assert (await doomed.post("/v1/runs", json={"agent_id": "echo"})).status_code == 401
    revoked = next(k for k in await listed(admin) if k["id"] == made["id"])
    assert revoked["revoked_at"] is not None
    # Revoking again changes nothing; an unknown key is a 404.
    assert (await admin.delete(f"/v1/keys/{made['id']}")).status_code == 204
    assert (await admin.delete("/v1/keys/key_nope")).status_code == 404


async def test_the_last_admin_key_cannot_be_revoked(team: Team) -> None:
    admin = await team.role("admin")
    (only,) = [k for k in await listed(admin) if k["role"] == "admin"]
    r = await admin.delete(f"/v1/keys/{only['id']}")
    assert r.status_code == 409 and r.json()["details"][0]["value"] == only["id"]
    assert (await admin.get("/v1/keys")).status_code == 200

    second = (await admin.post("/v1/keys", json={"role": "admin"})).json()
    assert (await admin.delete(f"/v1/keys/{only['id']}")).status_code == 204
    assert (await admin.get("/v1/keys")).status_code == 401
    assert (await team.client(second["key"]).get("/v1/keys")).status_code == 200


async def test_keys_of_another_tenant_are_not_found(app: FastAPI, rt: Runtime) -> None:
    async with team_of(app, rt) as a, team_of(app, rt) as b:
        admin_a, admin_b = await a.role("admin"), await b.role("admin")
        victim = (await admin_b.post("/v1/keys", json={"role": "member"})).json()
        assert (await admin_a.delete(f"/v1/keys/{victim['id']}")).status_code == 404
        assert victim["id"] not in [k["id"] for k in await listed(admin_a)]
        assert (await b.client(victim["key"]).get("/v1/runs")).status_code == 200


async def test_every_key_change_is_an_audit_event_newest_first(team: Team) -> None:
    admin = await team.role("admin")
    me = (await listed(admin))[0]["id"]
    made = (await admin.post("/v1/keys", json={"role": "viewer", "user_id": "eve"})).json()
    await admin.delete(f"/v1/keys/{made['id']}")

    events = (await admin.get("/v1/audit-events")).json()["items"]
    assert [e["action"] for e in events] == ["key.revoked", "key.created"]
    assert all(e["actor_key_id"] == me and e["target_id"] == made["id"] for e in events)
    assert events[1]["target_type"] == "api_key"
    assert events[1]["data"] == {"role": "viewer", "user_id": "eve"}
    assert made["key"] not in str(events)

    first = (await admin.get("/v1/audit-events", params={"limit": 1})).json()
    assert [e["action"] for e in first["items"]] == ["key.revoked"]
    rest = await admin.get(
        "/v1/audit-events", params={"limit": 1, "continuation_token": first["continuation_token"]}
    )
    assert [e["action"] for e in rest.json()["items"]] == ["key.created"]
    bad = await admin.get("/v1/audit-events", params={"continuation_token": "nonsense"})
    assert bad.status_code == 400


# -- the CLI and the client, on the live server --------------------------------------------


def cli(*args: str, url: str, key: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPLANE_")}
    env.update(RUNPLANE_URL=url, RUNPLANE_API_KEY=key, COLUMNS="200")
    return subprocess.run(
        [RUNPLANE, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@pytest.mark.timeout(180)  # the first test on the live server waits for it to start
def test_the_cli_lists_and_revokes_keys_through_the_api(live_server: Any) -> None:
    tenant = f"cli-keys-{uuid.uuid4().hex[:8]}"
    admin_key = create_key(live_server.database_url, tenant=tenant)
    with Client(live_server.url, admin_key) as client:
        made = client.keys.create("member", name="ci", user_id="frank")
    assert made.user_id == "frank"

    shown = cli("keys", "ls", url=live_server.url, key=admin_key)
    assert shown.returncode == 0, shown.stderr
    line = next(line for line in shown.stdout.splitlines() if made.id in line)
    assert "member" in line and "frank" in line and made.key not in shown.stdout

    member_try = cli("keys", "revoke", made.id, url=live_server.url, key=made.key)
    assert member_try.returncode == 1 and "may not" in member_try.stderr

    revoked = cli("keys", "revoke", made.id, url=live_server.url, key=admin_key)
    assert revoked.returncode == 0, revoked.stderr
    assert f"{made.id} revoked" in revoked.stdout
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        r = http.get("/v1/runs", headers={"Authorization": f"Bearer {made.key}"})
        assert r.status_code == 401
    with Client(live_server.url, admin_key) as client:
        actions = [e.action for e in client.keys.audit_events().items]
    assert actions == ["key.revoked", "key.created"]


@pytest.mark.timeout(180)
def test_keys_create_binds_a_key_to_a_user(live_server: Any) -> None:
    tenant = f"cli-bind-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPLANE_")}
    made = subprocess.run(
        [RUNPLANE, "keys", "create", "--tenant", tenant, "--role", "viewer", "--user-id", "gil"]
        + ["--database-url", live_server.database_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert "bound to user 'gil'" in made.stderr
    key = made.stdout.strip().splitlines()[-1]
    admin_key = create_key(live_server.database_url, tenant=tenant)
    with Client(live_server.url, admin_key) as client:
        (viewer,) = [k for k in client.keys.list().items if k.role == "viewer"]
    assert viewer.user_id == "gil" and key.startswith(viewer.prefix)
