"""Waiting runs survive every process; a call cut off by a crash is never repeated blindly.

``send_email`` and ``pay`` log "<run_id> <tool>" to ``tools.log`` when they start
(``RUNPLANE_EXAMPLES_SIDE_EFFECTS``) and then sleep (``…_SEND_DELAY``/``…_PAY_DELAY``),
so a test can kill the server inside the call and count how often it began.
"""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from runplane.testing.server import LiveServer, create_key

SIDE_EFFECTS = "RUNPLANE_EXAMPLES_SIDE_EFFECTS"


def client(server: LiveServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def calls(*pairs: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"calls": [{"tool": t, "arguments": a} for t, a in pairs]}


EMAIL = calls(("send_email", {"to": "team", "subject": "s", "body": "b"}))
SEND_DELAY = "RUNPLANE_EXAMPLES_SEND_DELAY"


def until(api: httpx.Client, run_id: str, *statuses: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = api.get(f"/v1/runs/{run_id}").json()
        if run["status"] in statuses:
            return run
        assert time.monotonic() < deadline, f"{run_id} stayed {run['status']}, wanted {statuses}"
        time.sleep(0.05)


def started(side_effects: Path, run_id: str, tool: str) -> int:
    log = side_effects / "tools.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return sum(1 for line in lines if line.split() == [run_id, tool])


def wait_for_start(side_effects: Path, run_id: str, tool: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while started(side_effects, run_id, tool) == 0:
        assert time.monotonic() < deadline, f"{tool} of {run_id} did not start"
        time.sleep(0.02)


def clean_log(api: httpx.Client, run_id: str) -> list[dict]:
    events = api.get(f"/v1/runs/{run_id}/events", params={"limit": 1000}).json()["items"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert api.get(f"/v1/runs/{run_id}/verify").json()["ok"] is True
    return events


def test_paused_and_auth_required_runs_survive_a_restart_of_every_process(
    start_server: Callable[..., LiveServer],
) -> None:
    server = start_server()
    key = create_key(server.database_url, tenant="restart")
    with client(server, key) as api:
        notes = calls(("read_notes", {"day": "Monday"}))
        paused = api.post(
            "/v1/runs", json={"agent_id": "call_tools", "input": notes, "approval": "ON_TOOL_CALL"}
        ).json()
        blocked = api.post(
            "/v1/runs", json={"agent_id": "call_tools", "input": EMAIL, "user_id": "alice"}
        ).json()
        until(api, paused["id"], "paused")
        until(api, blocked["id"], "auth_required")
    server.kill()
    server.start()
    with client(server, key) as api:
        assert api.get(f"/v1/runs/{paused['id']}").json()["status"] == "paused"
        assert api.get(f"/v1/runs/{blocked['id']}").json()["status"] == "auth_required"
        approval = api.get("/v1/approvals", params={"run_id": paused["id"]}).json()["items"][0]
        api.post(f"/v1/approvals/{approval['id']}", json={"decision": "approve"})
        api.put("/v1/users/alice/connections/email", json={"secret": "alice-secret"})
        assert until(api, paused["id"], "succeeded")["status"] == "succeeded"
        assert until(api, blocked["id"], "succeeded")["status"] == "succeeded"
        clean_log(api, paused["id"])
        clean_log(api, blocked["id"])


def cut_off(
    start_server: Callable[..., LiveServer],
    side: Path,
    tenant: str,
    tool: str,
    delay_env: str,
    body: dict[str, Any],
) -> tuple[LiveServer, str, dict]:
    """Start a run, kill the server inside ``tool``'s call, restart it without the delay."""
    side.mkdir()
    server = start_server(env={SIDE_EFFECTS: str(side), delay_env: "30"})
    key = create_key(server.database_url, tenant=tenant)
    with client(server, key) as api:
        api.put("/v1/users/alice/connections/email", json={"secret": "alice-secret"})
        run = api.post("/v1/runs", json={"agent_id": "call_tools", **body}).json()
        wait_for_start(side, run["id"], tool)
    server.kill()
    server.extra_env[delay_env] = "0"
    server.start()
    return server, key, run


def test_a_call_cut_off_by_a_crash_pauses_in_doubt_and_can_be_skipped(
    start_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    side = tmp_path / "side"
    body = {"input": EMAIL, "user_id": "alice"}
    server, key, run = cut_off(start_server, side, "doubt", "send_email", SEND_DELAY, body)
    with client(server, key) as api:
        until(api, run["id"], "paused")
        approval = api.get("/v1/approvals", params={"run_id": run["id"]}).json()["items"][0]
        assert approval["kind"] == "in_doubt" and approval["status"] == "pending"
        assert approval["request"]["tool"] == "send_email"
        assert approval["request"]["choices"] == ["repeat", "skip", "fail"]
        assert started(side, run["id"], "send_email") == 1  # not repeated blindly

        given = {"status": "sent", "note": "checked the mail server by hand"}
        r = api.post(f"/v1/approvals/{approval['id']}", json={"action": "skip", "result": given})
        assert r.status_code == 200, r.text
        done = until(api, run["id"], "succeeded")
        assert done["result"]["content"]["results"][0]["output"] == given
        assert started(side, run["id"], "send_email") == 1
        events = clean_log(api, run["id"])
        assert sum(e["type"] == "step.started" for e in events) == 1


def test_an_in_doubt_call_repeated_by_a_person_runs_again_once(
    start_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    side = tmp_path / "side"
    body = {"input": EMAIL, "user_id": "alice"}
    server, key, run = cut_off(start_server, side, "repeat", "send_email", SEND_DELAY, body)
    with client(server, key) as api:
        until(api, run["id"], "paused")
        approval = api.get("/v1/approvals", params={"run_id": run["id"]}).json()["items"][0]
        api.post(f"/v1/approvals/{approval['id']}", json={"action": "repeat"})
        done = until(api, run["id"], "succeeded")
        assert done["result"]["content"]["results"][0]["output"]["status"] == "sent"
        assert started(side, run["id"], "send_email") == 2


def test_a_reconcile_hook_settles_an_in_doubt_call_without_a_person(
    start_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    side = tmp_path / "side"
    payment = {"account": "ops", "to": "acme", "amount": 120, "reference": "inv-9"}
    body = {"input": calls(("pay", payment))}
    delay = "RUNPLANE_EXAMPLES_PAY_DELAY"
    server, key, run = cut_off(start_server, side, "reconcile", "pay", delay, body)
    with client(server, key) as api:
        done = until(api, run["id"], "succeeded")
        # The ledger had no payment with that reference, so the hook chose to repeat it.
        assert done["result"]["content"]["results"][0]["output"]["reference"] == "inv-9"
        assert started(side, run["id"], "pay") == 2
        assert api.get("/v1/approvals", params={"run_id": run["id"]}).json()["items"] == []
        texts = [e["data"].get("text", "") for e in clean_log(api, run["id"])]
        assert any("reconcile hook chose repeat" in t for t in texts)
