"""Auth-required runs and users' connections: encrypted, per user, per tenant."""

import httpx
import sqlalchemy as sa
from flows import calls, events, start, until

from runplane.services.runtime import Runtime
from runplane.store.schema import connections

EMAIL = ("send_email", {"to": "team", "subject": "Hello", "body": "Notes attached."})


async def test_a_run_without_the_users_credential_waits_in_auth_required(
    api: httpx.AsyncClient,
) -> None:
    run = await start(api, "call_tools", calls(EMAIL), user_id="alice")
    waiting = await until(api, run["id"], "auth_required")
    assert waiting["waiting_on"] == {"integration": "email", "user_id": "alice"}
    asked = (await events(api, run["id"], "auth.required"))[0]["data"]
    assert asked["integration"] == "email" and asked["user_id"] == "alice"
    assert asked["connect"] == "PUT /v1/users/alice/connections/email"

    r = await api.put("/v1/users/alice/connections/email", json={"secret": "alice-secret-1234"})
    assert r.status_code == 200 and r.json()["resumed_runs"] == [run["id"]]
    done = await until(api, run["id"], "succeeded")
    sent = done["result"]["content"]["results"][0]["output"]
    assert sent["sender"] == "alice" and "1234" in sent["credential"]
    assert "alice-secret" not in str(done)


async def test_credentials_are_stored_encrypted(api: httpx.AsyncClient, rt: Runtime) -> None:
    await api.put("/v1/users/carol/connections/email", json={"secret": "carol-plaintext"})
    async with rt.db.read() as conn:
        rows = (
            (await conn.execute(sa.select(connections).where(connections.c.user_id == "carol")))
            .mappings()
            .all()
        )
    assert rows and all("carol-plaintext" not in r["secret"] for r in rows)
    assert any(rt.keys.open(r["secret"]) == "carol-plaintext" for r in rows)
    listed = (await api.get("/v1/users/carol/connections")).json()["items"]
    assert listed[0]["integration"] == "email" and "secret" not in listed[0]


async def test_a_tool_acts_only_with_its_runs_users_credential(api: httpx.AsyncClient) -> None:
    await api.put("/v1/users/bob/connections/email", json={"secret": "bob-secret-9999"})
    run = await start(api, "call_tools", calls(EMAIL), user_id="dave")
    await until(api, run["id"], "auth_required")
    r = await api.put("/v1/users/erin/connections/email", json={"secret": "erin-secret-5555"})
    assert r.json()["resumed_runs"] == []
    assert (await api.get(f"/v1/runs/{run['id']}")).json()["status"] == "auth_required"
    await api.put("/v1/users/dave/connections/email", json={"secret": "dave-secret-7777"})
    done = await until(api, run["id"], "succeeded")
    sent = done["result"]["content"]["results"][0]["output"]
    assert sent["sender"] == "dave" and "7777" in sent["credential"]


async def test_another_tenants_connection_resumes_nothing(
    api: httpx.AsyncClient, make_client
) -> None:
    run = await start(api, "call_tools", calls(EMAIL), user_id="frank")
    await until(api, run["id"], "auth_required")
    other = await make_client()
    r = await other.put("/v1/users/frank/connections/email", json={"secret": "x-secret"})
    assert r.status_code == 200 and r.json()["resumed_runs"] == []
    assert (await api.get(f"/v1/runs/{run['id']}")).json()["status"] == "auth_required"
    assert (await api.get("/v1/users/frank/connections")).json()["items"] == []


async def test_a_revoked_connection_sends_the_next_run_back_to_auth_required(
    api: httpx.AsyncClient,
) -> None:
    await api.put("/v1/users/gina/connections/email", json={"secret": "gina-secret"})
    first = await start(api, "call_tools", calls(EMAIL), user_id="gina", wait=10)
    assert first["status"] == "succeeded"
    assert (await api.delete("/v1/users/gina/connections/email")).status_code == 204
    assert (await api.delete("/v1/users/gina/connections/email")).status_code == 404
    second = await start(api, "call_tools", calls(EMAIL), user_id="gina")
    await until(api, second["id"], "auth_required")


async def test_an_act_as_user_tool_in_a_run_without_a_user_fails_that_call(
    api: httpx.AsyncClient,
) -> None:
    run = await start(api, "call_tools", calls(EMAIL), wait=10)
    error = run["result"]["content"]["results"][0]["error"]
    assert error["code"] == "no_user"


async def test_a_connection_needs_a_known_integration_and_a_secret(
    api: httpx.AsyncClient,
) -> None:
    r = await api.put("/v1/users/alice/connections/fax", json={"secret": "s"})
    assert r.status_code == 422 and r.json()["details"][0]["name"] == "integration"
    r = await api.put("/v1/users/alice/connections/email", json={})
    assert r.status_code == 422
    r = await api.put("/v1/users/alice/connections/email", json={"secret": ""})
    assert r.status_code == 422


async def test_a_waiting_run_can_be_canceled(api: httpx.AsyncClient) -> None:
    run = await start(api, "call_tools", calls(EMAIL), user_id="hank")
    await until(api, run["id"], "auth_required")
    r = await api.post(f"/v1/runs/{run['id']}/cancel")
    assert r.json()["status"] == "canceled"
    r = await api.put("/v1/users/hank/connections/email", json={"secret": "late"})
    assert r.json()["resumed_runs"] == []
