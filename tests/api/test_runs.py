"""The native runs API, in-process."""

import asyncio
import uuid

import httpx
import pytest

from runplane.domain.events import EVENTS


async def create(api: httpx.AsyncClient, agent: str, input: object, **extra: object) -> dict:
    r = await api.post("/v1/runs", json={"agent_id": agent, "input": input, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def test_echo_run_returns_its_input_as_json(api: httpx.AsyncClient) -> None:
    run = await create(api, "echo", {"message": "hi"}, wait=10, name="first echo")
    assert run["status"] == "succeeded"
    assert run["result"] == {
        "type": "json",
        "content": {"message": "hi"},
        "sources": [],
        "files": [],
    }
    assert run["name"] == "first echo"
    assert run["steps_finished"] == 1 and run["step_count"] == 1
    assert run["started_at"] and run["finished_at"] and run["trigger"] == "api"
    assert run["id"].startswith("run_") and run["revision_id"].startswith("rev_")


async def test_agent_path_creates_a_run_of_that_agent(api: httpx.AsyncClient) -> None:
    r = await api.post("/v1/agents/echo/runs", json={"input": {"x": 1}, "wait": 10})
    assert r.status_code == 201
    assert r.json()["agent_name"] == "echo" and r.json()["status"] == "succeeded"


async def test_a_run_without_wait_is_accepted_at_once_and_finishes(api: httpx.AsyncClient) -> None:
    run = await create(api, "steps", {"steps": 2, "sleep": 0.2})
    assert run["status"] in ("queued", "running")
    r = await api.get(f"/v1/runs/{run['id']}", params={"wait": 10})
    assert r.json()["status"] == "succeeded"


async def test_steps_are_recorded_with_outputs(api: httpx.AsyncClient) -> None:
    run = await create(api, "steps", {"steps": 3}, wait=10)
    r = await api.get(f"/v1/runs/{run['id']}/steps")
    steps = r.json()["items"]
    assert [s["number"] for s in steps] == [1, 2, 3]
    assert [s["name"] for s in steps] == ["step-1", "step-2", "step-3"]
    assert all(s["status"] == "completed" and s["output"]["index"] == s["number"] for s in steps)
    assert run["result"]["content"]["steps"] == [s["output"] for s in steps]


async def test_event_log_is_numbered_without_gaps_and_verifies(api: httpx.AsyncClient) -> None:
    run = await create(api, "steps", {"steps": 3}, wait=10)
    events = (await api.get(f"/v1/runs/{run['id']}/events")).json()["items"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    types = [e["type"] for e in events]
    assert types[0] == "status" and events[0]["data"] == {"status": "queued"}
    assert types.count("step.started") == 3 and types.count("step.completed") == 3
    assert types[-2:] == ["result", "status"] and events[-1]["data"]["status"] == "succeeded"
    for prev, ev in zip(events, events[1:], strict=False):
        assert ev["prev_hash"] == prev["hash"]
    assert (await api.get(f"/v1/runs/{run['id']}/verify")).json() == {
        "ok": True,
        "events": len(events),
        "first_bad_seq": None,
        "deleted": False,
        "last_hash": None,
    }


async def test_events_page_with_after_and_limit(api: httpx.AsyncClient) -> None:
    run = await create(api, "steps", {"steps": 2}, wait=10)
    page = (await api.get(f"/v1/runs/{run['id']}/events", params={"limit": 2})).json()
    assert [e["seq"] for e in page["items"]] == [1, 2] and page["continuation_token"] == "2"
    rest = (await api.get(f"/v1/runs/{run['id']}/events", params={"after": 2})).json()
    assert rest["items"][0]["seq"] == 3 and rest["continuation_token"] is None


async def test_research_cites_its_sources(api: httpx.AsyncClient) -> None:
    run = await create(api, "research", {"question": "How does an SSE client resume?"}, wait=10)
    assert run["status"] == "succeeded"
    result = run["result"]
    assert result["type"] == "document" and result["content"].startswith("# ")
    assert result["sources"] and all(s["url"].startswith("corpus://") for s in result["sources"])
    types = [e["type"] for e in (await api.get(f"/v1/runs/{run['id']}/events")).json()["items"]]
    for t in ("planning", "reasoning", "tool_call", "tool_result", "source", "result"):
        assert t in types


async def test_every_event_a_run_writes_has_a_known_type_and_fits_its_payload(
    api: httpx.AsyncClient,
) -> None:
    research = await create(api, "research", {"question": "How does SSE resume?"}, wait=10)
    failed = await create(api, "fail", {"in_step": True}, wait=10)
    seen = set()
    for run in (research, failed):
        for event in (await api.get(f"/v1/runs/{run['id']}/events")).json()["items"]:
            payload, data = EVENTS[event["type"]].payload, event["data"]
            required = payload.__required_keys__  # type: ignore[attr-defined]
            assert required <= data.keys(), event
            if event["type"] != "source":  # a source keeps whatever else the agent gave
                assert data.keys() <= required | payload.__optional_keys__, event  # type: ignore[attr-defined]
            seen.add(event["type"])
    assert {"planning", "tool_call", "tool_result", "source", "step.failed", "error"} <= seen


async def test_a_failing_agent_ends_failed_with_a_structured_error(api: httpx.AsyncClient) -> None:
    run = await create(api, "fail", {}, wait=10)
    assert run["status"] == "failed"
    assert run["error"]["code"] == "example_failure"
    assert "always fails" in run["error"]["message"]
    events = (await api.get(f"/v1/runs/{run['id']}/events")).json()["items"]
    assert [e["type"] for e in events][-2:] == ["error", "status"]
    assert run["steps_finished"] == 1


async def test_a_run_past_its_time_limit_fails_with_timeout(api: httpx.AsyncClient) -> None:
    run = await create(api, "steps", {"steps": 1, "sleep": 5}, timeout_seconds=0.3, wait=10)
    assert run["status"] == "failed"
    assert run["error"]["code"] == "timeout" and run["error"]["step"] == 1


async def test_cancel_stops_a_sleeping_agent_within_a_second(api: httpx.AsyncClient) -> None:
    run = await create(api, "steps", {"steps": 3, "sleep": 30})
    for _ in range(100):
        got = (await api.get(f"/v1/runs/{run['id']}")).json()
        if got["status"] == "running":
            break
        await asyncio.sleep(0.02)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    r = await api.post(f"/v1/runs/{run['id']}/cancel")
    assert r.status_code == 202 and r.json()["cancel_requested_at"]
    done = (await api.get(f"/v1/runs/{run['id']}", params={"wait": 5})).json()
    assert done["status"] == "canceled" and loop.time() - t0 < 1.0
    receipt = done["cancel_receipt"]
    assert receipt["step"] == 1 and receipt["children_ended"] is True
    assert receipt["requested_at"] <= receipt["stopped_at"]
    r = await api.post(f"/v1/runs/{run['id']}/cancel")
    assert r.status_code == 409


async def test_rerun_from_step_reuses_earlier_outputs(api: httpx.AsyncClient) -> None:
    first = await create(api, "steps", {"steps": 4}, wait=10)
    r = await api.post(f"/v1/runs/{first['id']}/rerun", json={"from_step": 3, "wait": 10})
    assert r.status_code == 201
    second = r.json()
    assert second["status"] == "succeeded"
    assert second["rerun_of"] == first["id"] and second["from_step"] == 3
    old = first["result"]["content"]["steps"]
    new = second["result"]["content"]["steps"]
    assert new[:2] == old[:2]  # the same nonces: not executed again
    assert new[2]["nonce"] != old[2]["nonce"] and new[3]["nonce"] != old[3]["nonce"]
    steps = (await api.get(f"/v1/runs/{second['id']}/steps")).json()["items"]
    assert [s["status"] for s in steps] == ["reused", "reused", "completed", "completed"]
    assert steps[0]["reused_from"] == first["id"]
    events = (await api.get(f"/v1/runs/{second['id']}/events")).json()["items"]
    started = [e["data"]["number"] for e in events if e["type"] == "step.started"]
    assert started == [3, 4]


async def test_plain_rerun_executes_every_step_again(api: httpx.AsyncClient) -> None:
    first = await create(api, "steps", {"steps": 2}, wait=10)
    second = (await api.post(f"/v1/runs/{first['id']}/rerun", json={"wait": 10})).json()
    assert second["status"] == "succeeded" and second["rerun_of"] == first["id"]
    assert (
        second["result"]["content"]["steps"][0]["nonce"]
        != (first["result"]["content"]["steps"][0]["nonce"])
    )


async def test_duplicate_applies_overrides(api: httpx.AsyncClient) -> None:
    first = await create(api, "echo", {"a": 1}, variables={"v": 1}, name="orig", wait=10)
    r = await api.post(
        f"/v1/runs/{first['id']}/duplicate",
        json={"input": {"a": 2}, "name": "copy", "wait": 10},
    )
    assert r.status_code == 201
    dup = r.json()
    assert dup["id"] != first["id"] and dup["name"] == "copy"
    assert dup["result"]["content"] == {"a": 2} and dup["variables"] == {"v": 1}


async def test_idempotency_key_returns_the_first_run(api: httpx.AsyncClient) -> None:
    body = {"agent_id": "echo", "input": {"n": 1}}
    h = {"Idempotency-Key": "abc-123"}
    a = (await api.post("/v1/runs", json=body, headers=h)).json()
    b = (await api.post("/v1/runs", json=body, headers=h)).json()
    assert a["id"] == b["id"]
    r = await api.post("/v1/runs", json={**body, "input": {"n": 2}}, headers=h)
    assert r.status_code == 409 and r.json()["details"][0]["name"] == "Idempotency-Key"


async def test_creates_sent_at_once_with_one_idempotency_key_make_one_run(
    api: httpx.AsyncClient,
) -> None:
    # What a client that timed out and retried sends: a repeat while the first is in flight.
    body = {"agent_id": "echo", "input": {"n": 1}}
    h = {"Idempotency-Key": f"race-{uuid.uuid4().hex}"}
    answers = await asyncio.gather(*(api.post("/v1/runs", json=body, headers=h) for _ in range(8)))
    assert [r.status_code for r in answers] == [201] * 8, [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1


async def test_a_rerun_or_duplicate_sent_again_with_its_idempotency_key_makes_one_run(
    api: httpx.AsyncClient,
) -> None:
    first = await create(api, "echo", {"n": 1}, wait=10)
    for action in ("rerun", "duplicate"):
        h = {"Idempotency-Key": f"{action}-{uuid.uuid4().hex}"}
        a = await api.post(f"/v1/runs/{first['id']}/{action}", json={}, headers=h)
        b = await api.post(f"/v1/runs/{first['id']}/{action}", json={}, headers=h)
        assert (a.status_code, b.status_code) == (201, 201), b.text
        assert a.json()["id"] == b.json()["id"] != first["id"]


async def test_list_filters_and_pages(api: httpx.AsyncClient) -> None:
    ids = [
        (await create(api, "echo", {"i": i}, name=f"alpha {i}", wait=10))["id"] for i in range(5)
    ]
    failed = await create(api, "fail", {}, name="beta", wait=10)
    page = (await api.get("/v1/runs", params={"limit": 2})).json()
    assert [r["id"] for r in page["items"]] == [failed["id"], ids[4]]
    seen = [r["id"] for r in page["items"]]
    token = page["continuation_token"]
    while token:
        page = (await api.get("/v1/runs", params={"limit": 2, "continuation_token": token})).json()
        seen += [r["id"] for r in page["items"]]
        token = page["continuation_token"]
    assert seen == [failed["id"], *reversed(ids)]
    by_status = (await api.get("/v1/runs", params={"status": "failed"})).json()["items"]
    assert [r["id"] for r in by_status] == [failed["id"]]
    by_agent = (await api.get("/v1/runs", params={"agent_id": "echo"})).json()["items"]
    assert len(by_agent) == 5
    by_name = (await api.get("/v1/runs", params={"q": "ALPHA 3"})).json()["items"]
    assert [r["id"] for r in by_name] == [ids[3]]
    by_trigger = (await api.get("/v1/runs", params={"trigger": "schedule"})).json()["items"]
    assert by_trigger == []


async def test_list_by_parent_run(api: httpx.AsyncClient) -> None:
    parent = await create(api, "echo", {}, wait=10)
    child = await create(api, "echo", {}, parent_run_id=parent["id"], trigger="agent", wait=10)
    items = (await api.get("/v1/runs", params={"parent_run_id": parent["id"]})).json()["items"]
    assert [r["id"] for r in items] == [child["id"]] and items[0]["trigger"] == "agent"


async def test_archive_hides_a_run_from_the_default_list(api: httpx.AsyncClient) -> None:
    run = await create(api, "echo", {}, wait=10)
    r = await api.post(f"/v1/runs/{run['id']}/archive")
    assert r.json()["archived"] is True
    assert (await api.get("/v1/runs")).json()["items"] == []
    archived = (await api.get("/v1/runs", params={"archived": True})).json()["items"]
    assert [x["id"] for x in archived] == [run["id"]]
    await api.post(f"/v1/runs/{run['id']}/unarchive")
    assert [x["id"] for x in (await api.get("/v1/runs")).json()["items"]] == [run["id"]]


async def test_delete_only_ended_runs(api: httpx.AsyncClient) -> None:
    live = await create(api, "steps", {"steps": 1, "sleep": 30})
    r = await api.delete(f"/v1/runs/{live['id']}")
    assert r.status_code == 409 and r.json()["details"][0]["name"] == "status"
    await api.post(f"/v1/runs/{live['id']}/cancel")
    await api.get(f"/v1/runs/{live['id']}", params={"wait": 5})
    assert (await api.delete(f"/v1/runs/{live['id']}")).status_code == 204
    assert (await api.get(f"/v1/runs/{live['id']}")).status_code == 410


async def test_context_is_hidden_from_member_keys(make_client) -> None:  # type: ignore[no-untyped-def]
    admin = await make_client("admin", tenant="shared-ctx")
    member = await make_client("member", tenant="shared-ctx")
    run = (
        await admin.post(
            "/v1/runs", json={"agent_id": "echo", "input": {}, "context": {"secret": 1}, "wait": 10}
        )
    ).json()
    assert run["context"] == {"secret": 1}
    seen = (await member.get(f"/v1/runs/{run['id']}")).json()
    assert seen["context"] is None
    assert (await member.get("/v1/runs")).json()["items"][0]["context"] is None


@pytest.mark.parametrize("agent", ["echo", "steps"])
async def test_runs_of_another_tenant_are_not_found(make_client, agent: str) -> None:  # type: ignore[no-untyped-def]
    a = await make_client()
    b = await make_client()
    run = (await a.post("/v1/runs", json={"agent_id": agent, "input": {}, "wait": 10})).json()
    for path in ("", "/steps", "/events", "/verify"):
        r = await b.get(f"/v1/runs/{run['id']}{path}")
        assert r.status_code == 404, path
    for path in ("/cancel", "/rerun", "/duplicate", "/archive"):
        assert (await b.post(f"/v1/runs/{run['id']}{path}")).status_code == 404, path
    assert (await b.delete(f"/v1/runs/{run['id']}")).status_code == 404
    assert (await b.get("/v1/runs")).json()["items"] == []


async def test_a_failing_step_records_step_failed(api: httpx.AsyncClient) -> None:
    run = await create(api, "fail", {"in_step": True}, wait=10)
    assert run["status"] == "failed" and run["error"]["step"] == 2
    steps = (await api.get(f"/v1/runs/{run['id']}/steps")).json()["items"]
    assert [s["status"] for s in steps] == ["completed", "failed"]
    assert steps[1]["error"]["code"] == "example_failure"
    types = [e["type"] for e in (await api.get(f"/v1/runs/{run['id']}/events")).json()["items"]]
    assert "step.failed" in types


async def test_a_timed_out_step_is_recorded_as_failed(api: httpx.AsyncClient) -> None:
    run = await create(api, "steps", {"steps": 2, "sleep": 5}, timeout_seconds=0.3, wait=10)
    steps = (await api.get(f"/v1/runs/{run['id']}/steps")).json()["items"]
    assert steps[0]["status"] == "failed" and steps[0]["error"]["code"] == "timeout"


async def test_verify_detects_an_altered_or_removed_event(api: httpx.AsyncClient, rt) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from runplane.store.schema import events

    run = await create(api, "steps", {"steps": 2}, wait=10)
    async with rt.db.write() as conn:
        await conn.execute(
            events.update()
            .where(events.c.run_id == run["id"], events.c.seq == 3)
            .values(data={"number": 1, "name": "forged"})
        )
    bad = (await api.get(f"/v1/runs/{run['id']}/verify")).json()
    assert bad["ok"] is False and bad["first_bad_seq"] == 3
    other = await create(api, "steps", {"steps": 2}, wait=10)
    async with rt.db.write() as conn:
        await conn.execute(
            sa.delete(events).where(events.c.run_id == other["id"], events.c.seq == 2)
        )
    gone = (await api.get(f"/v1/runs/{other['id']}/verify")).json()
    assert gone["ok"] is False and gone["first_bad_seq"] == 2


async def test_verify_detects_a_log_cut_after_its_last_good_event(
    api: httpx.AsyncClient, rt
) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from runplane.store.schema import events

    run = await create(api, "steps", {"steps": 2}, wait=10)
    last = (await api.get(f"/v1/runs/{run['id']}/verify")).json()["events"]
    async with rt.db.write() as conn:
        await conn.execute(
            sa.delete(events).where(events.c.run_id == run["id"], events.c.seq >= last - 1)
        )
    cut = (await api.get(f"/v1/runs/{run['id']}/verify")).json()
    assert cut == {
        "ok": False,
        "events": last - 2,
        "first_bad_seq": last - 1,
        "deleted": False,
        "last_hash": None,
    }
