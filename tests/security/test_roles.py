"""Roles: each forbidden action, tried over HTTP with a weaker key, is a 403 and changes nothing."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from rolekeys import NOT_ADMIN, Team, assert_forbidden, team_of

from runplane.services.runtime import Runtime
from runplane.testing.console import csrf_of, sign_in

LG_ASSISTANT = "lg_echo"


@pytest.fixture
async def team(app: FastAPI, rt: Runtime) -> AsyncIterator[Team]:
    async with team_of(app, rt) as t:
        yield t


async def run_ids(api: httpx.AsyncClient) -> list[str]:
    r = await api.get("/v1/runs", params={"limit": 100})
    assert r.status_code == 200, r.text
    return [run["id"] for run in r.json()["items"]]


async def finished_run(api: httpx.AsyncClient, **body: object) -> dict:
    r = await api.post("/v1/runs", json={"agent_id": "echo", "input": {}, "wait": 20, **body})
    assert r.status_code == 201, r.text
    return r.json()


async def audit_actions(admin: httpx.AsyncClient) -> list[str]:
    r = await admin.get("/v1/audit-events", params={"limit": 100})
    assert r.status_code == 200, r.text
    return [e["action"] for e in r.json()["items"]]


# -- native API ----------------------------------------------------------------------------


async def test_a_viewer_reads_runs_but_cannot_start_archive_or_cancel_them(team: Team) -> None:
    admin, viewer = await team.role("admin"), await team.role("viewer")
    done = await finished_run(admin)
    live = (
        await admin.post("/v1/runs", json={"agent_id": "steps", "input": {"steps": 1, "sleep": 5}})
    ).json()
    before = await run_ids(admin)

    assert (await viewer.get(f"/v1/runs/{done['id']}")).status_code == 200
    assert (await viewer.get(f"/v1/runs/{done['id']}/events")).status_code == 200
    assert_forbidden(await viewer.post("/v1/runs", json={"agent_id": "echo", "input": {}}))
    assert_forbidden(await viewer.post("/v1/agents/echo/runs", json={"input": {}}))
    assert_forbidden(await viewer.post(f"/v1/runs/{done['id']}/rerun", json={}))
    assert_forbidden(await viewer.post(f"/v1/runs/{done['id']}/duplicate", json={}))
    assert_forbidden(await viewer.post(f"/v1/runs/{done['id']}/archive"))
    assert_forbidden(await viewer.post(f"/v1/runs/{live['id']}/cancel"))

    assert await run_ids(admin) == before
    seen = (await admin.get(f"/v1/runs/{live['id']}")).json()
    assert seen["cancel_requested_at"] is None and seen["status"] in ("queued", "running")
    assert (await admin.get(f"/v1/runs/{done['id']}")).json()["archived"] is False
    await admin.post(f"/v1/runs/{live['id']}/cancel")


async def test_a_member_starts_and_cancels_runs(team: Team) -> None:
    member = await team.role("member")
    run = (
        await member.post("/v1/runs", json={"agent_id": "steps", "input": {"steps": 1, "sleep": 5}})
    ).json()
    assert (await member.post(f"/v1/runs/{run['id']}/cancel")).status_code == 202
    ended = (await member.get(f"/v1/runs/{run['id']}", params={"wait": 10})).json()
    assert ended["status"] == "canceled"


@pytest.mark.parametrize("role", NOT_ADMIN)
async def test_only_admin_keys_delete_runs(team: Team, role: str) -> None:
    admin, other = await team.role("admin"), await team.role(role)
    run = await finished_run(admin)
    assert_forbidden(await other.delete(f"/v1/runs/{run['id']}"))
    assert (await admin.get(f"/v1/runs/{run['id']}")).status_code == 200
    assert (await admin.delete(f"/v1/runs/{run['id']}")).status_code == 204


@pytest.mark.parametrize("role", NOT_ADMIN)
async def test_only_admin_keys_publish_revisions(team: Team, role: str) -> None:
    admin, other = await team.role("admin"), await team.role(role)
    agent = (await admin.get("/v1/agents/echo")).json()
    revision = agent["published_revision_id"]
    r = await other.post(f"/v1/agents/echo/revisions/{revision}/publish")
    assert_forbidden(r)
    assert (await admin.get("/v1/agents/echo")).json()["published_revision_id"] == revision
    assert "revision.published" not in await audit_actions(admin)
    ok = await admin.post(f"/v1/agents/echo/revisions/{revision}/publish")
    assert ok.status_code == 200, ok.text
    assert "revision.published" in await audit_actions(admin)


async def test_a_member_may_not_start_runs_as_another_user(team: Team) -> None:
    admin, member = await team.role("admin"), await team.role("member")
    bob = await team.bound("member", "bob")
    before = await run_ids(admin)
    body = {"agent_id": "echo", "input": {}, "user_id": "alice"}
    assert_forbidden(await member.post("/v1/runs", json=body))
    assert_forbidden(await bob.post("/v1/runs", json=body))
    assert await run_ids(admin) == before

    # A key bound to a user starts runs as that user, named or not.
    own = await finished_run(bob)
    assert own["user_id"] == "bob"
    assert (await finished_run(bob, user_id="bob"))["user_id"] == "bob"
    assert (await finished_run(admin, user_id="alice"))["user_id"] == "alice"


async def test_rerunning_another_users_run_is_acting_as_that_user(team: Team) -> None:
    admin, bob = await team.role("admin"), await team.bound("member", "bob")
    alices = await finished_run(admin, user_id="alice")
    before = await run_ids(admin)
    assert_forbidden(await bob.post(f"/v1/runs/{alices['id']}/rerun", json={}))
    assert_forbidden(await bob.post(f"/v1/runs/{alices['id']}/duplicate", json={}))
    assert await run_ids(admin) == before


@pytest.mark.parametrize("role", NOT_ADMIN)
async def test_only_admin_keys_widen_integrations_to_every_one(team: Team, role: str) -> None:
    admin, other = await team.role("admin"), await team.role(role)
    before = await run_ids(admin)
    r = await other.post("/v1/runs", json={"agent_id": "echo", "input": {}, "integrations": "*"})
    assert_forbidden(r)
    assert role == "viewer" or r.json()["details"][0]["name"] == "integrations"
    assert await run_ids(admin) == before
    assert (await finished_run(admin, integrations="*"))["integrations"] == "*"


async def test_a_member_names_integrations_and_uses_an_agents_own_star(team: Team) -> None:
    member = await team.role("member")
    assert (await finished_run(member, integrations=["email"]))["integrations"] == ["email"]
    r = await member.post(
        "/v1/runs",
        json={
            "agent_id": "call_tools",
            "input": {"calls": [{"tool": "read_notes", "arguments": {"day": "2026-01-01"}}]},
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["integrations"] == "*"


async def test_a_key_manages_only_its_own_users_connections(team: Team) -> None:
    admin, member = await team.role("admin"), await team.role("member")
    bob = await team.bound("member", "bob")
    carol_viewer = await team.bound("viewer", "carol")
    secret = {"secret": "alice-secret-1234"}
    assert (await admin.put("/v1/users/alice/connections/email", json=secret)).status_code == 200
    before = (await admin.get("/v1/users/alice/connections")).json()["items"]

    for intruder in (member, bob):
        forged = {"secret": "forged"}
        assert_forbidden(await intruder.put("/v1/users/alice/connections/email", json=forged))
        assert_forbidden(await intruder.delete("/v1/users/alice/connections/email"))
    assert_forbidden(await carol_viewer.put("/v1/users/carol/connections/email", json=secret))
    assert (await admin.get("/v1/users/alice/connections")).json()["items"] == before
    assert (await admin.get("/v1/users/carol/connections")).json()["items"] == []

    mine = await bob.put("/v1/users/bob/connections/email", json={"secret": "bob-secret-1"})
    assert mine.status_code == 200, mine.text
    assert (await bob.delete("/v1/users/bob/connections/email")).status_code == 204
    actions = await audit_actions(admin)
    assert actions.count("connection.put") == 2 and actions.count("connection.deleted") == 1


async def test_forbidden_routes_document_403_in_openapi(team: Team) -> None:
    spec = (await (await team.role("viewer")).get("/openapi.json")).json()
    for path, method in [
        ("/v1/runs/{run_id}", "delete"),
        ("/v1/runs", "post"),
        ("/v1/runs/{run_id}/cancel", "post"),
        ("/v1/runs/{run_id}/repair", "post"),
        ("/v1/agents/{agent_id}/revisions/{revision_id}/publish", "post"),
        ("/v1/users/{user_id}/connections/{integration}", "put"),
        ("/v1/keys", "post"),
        ("/v1/keys/{key_id}", "delete"),
        ("/v1/audit-events", "get"),
        ("/threads/{thread_id}", "delete"),
        ("/assistants/{assistant_id}", "delete"),
        ("/runs/crons/{cron_id}", "delete"),
        ("/store/items", "delete"),
        ("/threads/{thread_id}/runs/{run_id}", "delete"),
    ]:
        assert "403" in spec["paths"][path][method]["responses"], (method, path)
    assert "403" not in spec["paths"]["/v1/runs/{run_id}"]["get"]["responses"]


# -- Agent Protocol ------------------------------------------------------------------------


async def test_a_viewer_cannot_write_anything_over_the_agent_protocol(team: Team) -> None:
    admin, viewer = await team.role("admin"), await team.role("viewer")
    thread = (await admin.post("/threads", json={})).json()["thread_id"]
    threads_before = (await admin.post("/threads/count", json={})).json()
    runs_before = await run_ids(admin)
    run_body = {"assistant_id": LG_ASSISTANT, "input": {"messages": []}}

    assert_forbidden(await viewer.post("/threads", json={}))
    assert_forbidden(await viewer.patch(f"/threads/{thread}", json={"metadata": {"x": 1}}))
    assert_forbidden(await viewer.post(f"/threads/{thread}/copy"))
    assert_forbidden(await viewer.post("/assistants", json={"graph_id": LG_ASSISTANT}))
    assert_forbidden(
        await viewer.post(
            "/runs/crons", json={"assistant_id": LG_ASSISTANT, "schedule": "0 0 * * *"}
        )
    )
    assert_forbidden(
        await viewer.put("/store/items", json={"namespace": ["n"], "key": "k", "value": {}})
    )
    assert_forbidden(await viewer.post("/runs", json=run_body))
    assert_forbidden(await viewer.post("/runs/wait", json=run_body))
    assert_forbidden(await viewer.post("/runs/stream", json=run_body))
    assert_forbidden(await viewer.post("/runs/batch", json=[run_body]))
    assert_forbidden(await viewer.post(f"/threads/{thread}/runs", json=run_body))
    assert_forbidden(
        await viewer.post(
            "/threads/new-one/runs/wait", json={**run_body, "if_not_exists": "create"}
        )
    )

    assert (await admin.post("/threads/count", json={})).json() == threads_before
    assert await run_ids(admin) == runs_before
    assert (await admin.get(f"/threads/{thread}")).json()["metadata"] == {}
    assert (await admin.get("/threads/new-one")).status_code == 404
    assert (await admin.post("/runs/crons/search", json={})).json() == []
    assert (await viewer.get(f"/threads/{thread}")).status_code == 200


async def test_a_member_uses_the_sdk_surface_but_deletes_nothing(team: Team) -> None:
    admin, member = await team.role("admin"), await team.role("member")
    thread = (await member.post("/threads", json={"metadata": {"by": "member"}})).json()
    thread_id = thread["thread_id"]
    patched = await member.patch(f"/threads/{thread_id}", json={"metadata": {"x": 1}})
    assert patched.status_code == 200, patched.text
    assistant = (await member.post("/assistants", json={"graph_id": LG_ASSISTANT})).json()
    aid = assistant["assistant_id"]
    assert (await member.patch(f"/assistants/{aid}", json={"name": "renamed"})).status_code == 200
    cron = (
        await member.post("/runs/crons", json={"assistant_id": aid, "schedule": "0 0 1 1 *"})
    ).json()
    item = {"namespace": ["mem"], "key": "k", "value": {"v": 1}}
    assert (await member.put("/store/items", json=item)).status_code == 204
    run = await member.post(
        f"/threads/{thread_id}/runs/wait", json={"assistant_id": aid, "input": {"messages": []}}
    )
    assert run.status_code == 200, run.text
    run_id = run.headers["content-location"].rsplit("/", 1)[1]

    assert_forbidden(await member.delete(f"/threads/{thread_id}/runs/{run_id}"))
    assert_forbidden(
        await member.post(
            f"/threads/{thread_id}/runs/{run_id}/cancel", params={"action": "rollback"}
        )
    )
    assert_forbidden(
        await member.post(
            f"/threads/{thread_id}/runs",
            json={"assistant_id": aid, "input": {}, "multitask_strategy": "rollback"},
        )
    )
    assert_forbidden(await member.post("/runs/cancel", json={}, params={"action": "rollback"}))
    assert_forbidden(await member.delete(f"/threads/{thread_id}"))
    assert_forbidden(await member.delete(f"/assistants/{aid}"))
    assert_forbidden(await member.delete(f"/runs/crons/{cron['cron_id']}"))
    assert_forbidden(
        await member.request("DELETE", "/store/items", json={"namespace": ["mem"], "key": "k"})
    )

    assert (await admin.get(f"/threads/{thread_id}/runs/{run_id}")).status_code == 200
    assert (await admin.get(f"/threads/{thread_id}")).status_code == 200
    assert (await admin.get(f"/assistants/{aid}")).status_code == 200
    assert len((await admin.post("/runs/crons/search", json={})).json()) == 1
    stored = await admin.get("/store/items", params={"namespace": "mem", "key": "k"})
    assert stored.status_code == 200 and stored.json()["value"] == {"v": 1}
    assert (await admin.delete(f"/threads/{thread_id}")).status_code == 204


# -- console -------------------------------------------------------------------------------


async def signed_in(team: Team, role: str) -> httpx.AsyncClient:
    key = await team.key(role)
    browser = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=team.app), base_url="http://runplane.test", timeout=30
    )
    team._clients.append(browser)
    r = await sign_in(browser, key)
    assert r.status_code == 303, r.text
    return browser


async def test_the_console_hides_and_refuses_what_a_viewer_may_not_do(team: Team) -> None:
    admin = await team.role("admin")
    live = (
        await admin.post("/v1/runs", json={"agent_id": "steps", "input": {"steps": 1, "sleep": 5}})
    ).json()
    browser = await signed_in(team, "viewer")
    page = await browser.get(f"/console/runs/{live['id']}")
    assert page.status_code == 200
    assert "/cancel" not in page.text and "/rerun" not in page.text
    csrf = csrf_of(page.text)
    listing = (await browser.get("/console/runs")).text
    assert 'value="delete"' not in listing and 'value="archive"' not in listing
    agent_page = (await browser.get("/console/agents/echo")).text
    assert 'action="/console/agents/echo/runs"' not in agent_page
    assert "cannot start runs" in agent_page

    for path, form in [
        (f"/console/runs/{live['id']}/cancel", {}),
        (f"/console/runs/{live['id']}/rerun", {}),
        (f"/console/runs/{live['id']}/duplicate", {}),
        ("/console/runs/bulk", {"action": "delete", "run_ids": live["id"]}),
        ("/console/agents/echo/runs", {"input": "{}"}),
    ]:
        r = await browser.post(path, data={"csrf": csrf, **form})
        assert r.status_code == 403, (path, r.status_code, r.text[:300])
        assert "text/html" in r.headers["content-type"] and "Not allowed" in r.text
    seen = (await admin.get(f"/v1/runs/{live['id']}")).json()
    assert seen["cancel_requested_at"] is None
    assert await run_ids(admin) == [live["id"]]
    await admin.post(f"/v1/runs/{live['id']}/cancel")


async def test_the_console_refuses_a_member_publishing_or_deleting(team: Team) -> None:
    admin = await team.role("admin")
    run = await finished_run(admin)
    browser = await signed_in(team, "member")
    agent_page = (await browser.get("/console/agents/echo")).text
    assert "/publish" not in agent_page
    csrf = csrf_of(agent_page)
    revision = (await admin.get("/v1/agents/echo")).json()["published_revision_id"]
    r = await browser.post(
        f"/console/agents/echo/revisions/{revision}/publish", data={"csrf": csrf}
    )
    assert r.status_code == 403 and "Not allowed" in r.text
    listing = (await browser.get("/console/runs")).text
    assert 'value="delete"' not in listing and 'value="archive"' in listing
    r = await browser.post(
        "/console/runs/bulk", data={"csrf": csrf, "action": "delete", "run_ids": run["id"]}
    )
    assert r.status_code == 403
    assert (await admin.get(f"/v1/runs/{run['id']}")).status_code == 200
