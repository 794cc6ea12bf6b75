"""Tools and integrations: listed with schemas, reached only through the run's allow-list."""

import httpx
from flows import calls, events, start


async def test_tools_are_listed_with_json_schemas_from_their_type_hints(
    api: httpx.AsyncClient,
) -> None:
    tools = {t["name"]: t for t in (await api.get("/v1/tools")).json()["items"]}
    email = tools["send_email"]
    assert email["integration"] == "email" and email["requires_auth"] is True
    assert email["idempotent"] is False
    assert set(email["parameters"]["required"]) == {"to", "subject", "body"}
    assert email["parameters"]["properties"]["to"]["type"] == "string"
    assert "tool_ctx" not in email["parameters"]["properties"]
    assert tools["get_balance"]["rate_limit"] == "2/s"


async def test_integrations_group_their_tools(api: httpx.AsyncClient) -> None:
    items = {i["name"]: i for i in (await api.get("/v1/integrations")).json()["items"]}
    assert {"calendar", "email", "notes", "billing"} <= items.keys()
    assert items["email"]["requires_auth"] is True and items["notes"]["requires_auth"] is False
    assert {t["name"] for t in items["notes"]["tools"]} == {"read_notes", "add_note"}


async def test_a_call_outside_the_allow_list_fails_that_call_only(api: httpx.AsyncClient) -> None:
    run = await start(
        api,
        "call_tools",
        calls(("read_notes", {"day": "Monday"}), ("list_events", {"day": "Monday"})),
        integrations=["notes"],
        wait=10,
    )
    assert run["status"] == "succeeded" and run["integrations"] == ["notes"]
    first, second = run["result"]["content"]["results"]
    assert first["output"] and first["output"][0]["day"] == "Monday"
    assert second["error"]["code"] == "tool_not_allowed"
    assert "calendar" in second["error"]["message"]
    refused = await events(api, run["id"], "error")
    assert refused[0]["data"]["code"] == "tool_not_allowed"
    assert refused[0]["data"]["tool"] == "list_events"


async def test_bad_tool_arguments_fail_the_call_naming_the_field(api: httpx.AsyncClient) -> None:
    run = await start(
        api, "call_tools", calls(("read_notes", {"date": "Monday"}), ("nope", {})), wait=10
    )
    bad, unknown = run["result"]["content"]["results"]
    assert bad["error"]["code"] == "invalid_arguments" and "day" in bad["error"]["message"]
    assert unknown["error"]["code"] == "unknown_tool"


async def test_the_default_allow_list_is_the_agents_declared_integrations(
    api: httpx.AsyncClient,
) -> None:
    run = await start(api, "echo", {"x": 1}, wait=10)
    assert run["integrations"] == []
    run = await start(api, "call_tools", calls(("read_notes", {"day": "Friday"})), wait=10)
    assert run["integrations"] == "*"


async def test_an_unknown_integration_is_refused_at_creation(api: httpx.AsyncClient) -> None:
    r = await api.post(
        "/v1/runs",
        json={
            "agent_id": "call_tools",
            "input": calls(("read_notes", {"day": "Monday"})),
            "integrations": ["fax"],
        },
    )
    assert r.status_code == 422
    assert r.json()["details"][0] == {"name": "integrations", "value": "fax"}


async def test_tool_calls_emit_call_and_result_events_with_duration(
    api: httpx.AsyncClient,
) -> None:
    run = await start(api, "call_tools", calls(("read_notes", {"day": "Monday"})), wait=10)
    kinds = [e["type"] for e in await events(api, run["id"])]
    assert kinds.index("tool_call") < kinds.index("step.started") < kinds.index("tool_result")
    result = (await events(api, run["id"], "tool_result"))[0]["data"]
    assert result["ok"] is True and result["duration_ms"] >= 0 and result["name"] == "read_notes"


async def test_rate_limited_calls_wait_and_say_so(api: httpx.AsyncClient) -> None:
    lookups = [("get_balance", {"account": "ops"})] * 4
    run = await start(api, "call_tools", calls(*lookups), wait=20)
    assert run["status"] == "succeeded"
    assert all(r["output"]["balance"] == 1000 for r in run["result"]["content"]["results"])
    waits = await events(api, run["id"], "rate_limited")
    assert waits and waits[0]["data"]["key"] == "billing" and waits[0]["data"]["wait_seconds"] > 0
    started = [e["at"] for e in await events(api, run["id"], "step.started")]
    assert len(started) == 4


async def test_a_tool_call_has_an_idempotency_key_its_retries_share(
    api: httpx.AsyncClient,
) -> None:
    payment = {"account": "ops", "to": "acme", "amount": 5, "reference": "idem-1"}
    run = await start(api, "call_tools", calls(("pay", payment)), integrations="*", wait=10)
    assert run["status"] == "succeeded", run
    (paid,) = run["result"]["content"]["results"]
    # The run id and the call's step number: what a takeover's repeat of it would carry.
    assert paid["output"]["idempotency_key"] == f"{run['id']}:1"
