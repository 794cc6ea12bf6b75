"""``POST /v1/triggers/{id}/hook``: signed deliveries start one run each, recorded before
the 202; bad, old or replayed deliveries start nothing more."""

import json
import time
import uuid

import httpx

from runplane.schemas.webhooks import sign_headers


async def webhook_trigger(api: httpx.AsyncClient, **body: object) -> dict:
    r = await api.post("/v1/triggers", json={"kind": "webhook", "agent_id": "echo", **body})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["secret"].startswith("whsec_")
    assert made["hook_url"] == f"/v1/triggers/{made['id']}/hook"
    return made


def signed(
    secret: str, payload: object, *, msg_id: str | None = None, at: int | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    stamp = int(time.time()) if at is None else at
    headers = sign_headers([secret], msg_id or f"msg_{uuid.uuid4().hex}", stamp, body)
    return body, {**headers, "content-type": "application/json"}


async def runs_of(api: httpx.AsyncClient, trigger_id: str) -> list[dict]:
    r = await api.get("/v1/runs", params={"trigger_id": trigger_id, "limit": 100})
    return r.json()["items"]


async def test_a_signed_delivery_starts_a_run_with_its_mapped_input(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    made = await webhook_trigger(
        api,
        input={"source": "github"},
        variables={"repo": "runplane"},
        mapping={"title": "/issue/title", "label": "/issue/labels/0", "missing": "/nope"},
    )
    body, headers = signed(
        made["secret"], {"issue": {"title": "Crash on start", "labels": ["bug", "p1"]}}
    )
    r = await anonymous.post(made["hook_url"], content=body, headers=headers)
    assert r.status_code == 202, r.text
    assert r.json() == {"run_id": r.json()["run_id"], "trigger_id": made["id"]}
    # Recorded before the answer: readable at once.
    run = (await api.get(f"/v1/runs/{r.json()['run_id']}")).json()
    assert run["trigger"] == "webhook" and run["trigger_id"] == made["id"]
    assert run["input"] == {"source": "github", "title": "Crash on start", "label": "bug"}
    assert run["variables"] == {"repo": "runplane"}
    got = (await api.get(f"/v1/triggers/{made['id']}")).json()
    assert got["secret"] is None and got["last_run_id"] == run["id"]


async def test_without_a_mapping_the_body_is_the_input(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    made = await webhook_trigger(api)
    body, headers = signed(made["secret"], {"message": "as is"})
    r = await anonymous.post(made["hook_url"], content=body, headers=headers)
    run = (await api.get(f"/v1/runs/{r.json()['run_id']}")).json()
    assert run["input"] == {"message": "as is"}


async def test_a_repeated_delivery_id_starts_no_second_run(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    made = await webhook_trigger(api)
    body, headers = signed(made["secret"], {"n": 1}, msg_id="delivery-1")
    first = await anonymous.post(made["hook_url"], content=body, headers=headers)
    again = await anonymous.post(made["hook_url"], content=body, headers=headers)  # a replay
    body2, headers2 = signed(made["secret"], {"n": 1}, msg_id="delivery-1")  # a retry, re-signed
    retry = await anonymous.post(made["hook_url"], content=body2, headers=headers2)
    assert first.status_code == again.status_code == retry.status_code == 202
    assert first.json()["run_id"] == again.json()["run_id"] == retry.json()["run_id"]
    other, other_headers = signed(made["secret"], {"n": 2}, msg_id="delivery-2")
    second = await anonymous.post(made["hook_url"], content=other, headers=other_headers)
    assert second.json()["run_id"] != first.json()["run_id"]
    assert len(await runs_of(api, made["id"])) == 2


async def test_a_bad_signature_is_401_and_starts_nothing(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    made = await webhook_trigger(api)
    other = await webhook_trigger(api)
    body, headers = signed(other["secret"], {"n": 1})  # signed with another trigger's secret
    r = await anonymous.post(made["hook_url"], content=body, headers=headers)
    assert r.status_code == 401 and "signature" in r.json()["message"]
    body, headers = signed(made["secret"], {"n": 1})
    r = await anonymous.post(made["hook_url"], content=body + b" ", headers=headers)  # altered
    assert r.status_code == 401
    r = await anonymous.post(made["hook_url"], content=body)  # unsigned
    assert r.status_code == 401 and "webhook-signature" in r.json()["message"]
    assert await runs_of(api, made["id"]) == []


async def test_an_old_delivery_is_refused_as_too_old(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    made = await webhook_trigger(api)
    body, headers = signed(made["secret"], {"n": 1}, at=int(time.time()) - 301)
    r = await anonymous.post(made["hook_url"], content=body, headers=headers)
    assert r.status_code == 401 and "too old" in r.json()["message"]
    body, headers = signed(made["secret"], {"n": 1}, at=int(time.time()) - 240)  # in the window
    assert (
        await anonymous.post(made["hook_url"], content=body, headers=headers)
    ).status_code == 202
    assert len(await runs_of(api, made["id"])) == 1


async def test_a_disabled_or_unknown_trigger_starts_nothing(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    made = await webhook_trigger(api)
    await api.post(f"/v1/triggers/{made['id']}/disable")
    body, headers = signed(made["secret"], {"n": 1})
    r = await anonymous.post(made["hook_url"], content=body, headers=headers)
    assert r.status_code == 409 and r.json()["details"][0]["name"] == "enabled"
    r = await anonymous.post("/v1/triggers/trg_nope/hook", content=body, headers=headers)
    assert r.status_code == 404
    schedule = (
        await api.post(
            "/v1/triggers",
            json={"kind": "schedule", "agent_id": "echo", "schedule": "0 9 * * *", "input": {}},
        )
    ).json()
    r = await anonymous.post(f"/v1/triggers/{schedule['id']}/hook", content=body, headers=headers)
    assert r.status_code == 404
    assert await runs_of(api, made["id"]) == []


async def test_a_delivery_that_breaks_the_agents_schema_is_422_naming_the_field(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    made = await webhook_trigger(api, agent_id="steps", mapping={"steps": "/count"})
    body, headers = signed(made["secret"], {"count": "lots"})
    r = await anonymous.post(made["hook_url"], content=body, headers=headers)
    assert r.status_code == 422 and r.json()["details"][0]["name"] == "input.steps"
    assert await runs_of(api, made["id"]) == []
