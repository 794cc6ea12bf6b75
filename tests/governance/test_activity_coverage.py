"""Every mutating endpoint of ``/v1`` leaves an activity row naming its action.

``RECORDS`` maps each POST, PUT, PATCH and DELETE of the OpenAPI document under ``/v1``
to the action it records (or to why it records none: it changes nothing). A new
endpoint missing from the table fails the first test; the second calls each one and
finds its row. The LangGraph dialect's routes (threads, assistants, store, crons) are
left out; its run creations go through the same ``run.created`` (checked below).
"""

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from fastapi import FastAPI
from flows import calls, only_pending, start, until

from runplane.domain.models import utcnow
from runplane.schemas.webhooks import sign_headers

STEP_AGENT = Path(__file__).resolve().parents[2] / "examples" / "step_agents" / "site_report.json"
READS_ONLY = "reads only (a POST for its body), changes nothing"
RECORDS: dict[tuple[str, str], str] = {
    ("POST", "/v1/approvals/{approval_id}"): "approval.approved",
    ("POST", "/v1/approvals/{approval_id}/link"): "approval.link_created",
    ("POST", "/v1/approvals/{approval_id}/link/revoke"): "approval.link_revoked",
    ("POST", "/v1/runs/approval/view"): READS_ONLY,
    ("POST", "/v1/runs/approval"): "approval.rejected",
    ("POST", "/v1/runs/estimate"): READS_ONLY,
    ("PUT", "/v1/budgets/tenant"): "budget.put",
    ("DELETE", "/v1/budgets/tenant"): "budget.deleted",
    ("PUT", "/v1/budgets/agents/{agent}"): "budget.put",
    ("DELETE", "/v1/budgets/agents/{agent}"): "budget.deleted",
    ("PUT", "/v1/runs/{run_id}/budget"): "run.budget_set",
    # Needs a run paused on a budget (a metered model): tests/usage/test_budgets.py.
    ("POST", "/v1/runs/{run_id}/budget/approve"): "run.overrun_approved",
    ("POST", "/v1/runs"): "run.created",
    ("POST", "/v1/agents/{agent_id}/runs"): "run.created",
    ("DELETE", "/v1/runs/{run_id}"): "run.deleted",
    ("POST", "/v1/runs/{run_id}/cancel"): "run.cancel_requested",
    # Needs a stalled or lost run: tests/operations/test_run_liveness.py.
    ("POST", "/v1/runs/{run_id}/repair"): "run.repaired",
    ("POST", "/v1/runs/{run_id}/rerun"): "run.rerun",
    ("POST", "/v1/runs/{run_id}/duplicate"): "run.duplicated",
    ("POST", "/v1/runs/{run_id}/archive"): "run.archived",
    ("POST", "/v1/runs/{run_id}/unarchive"): "run.unarchived",
    ("PUT", "/v1/users/{user_id}/connections/{integration}"): "connection.put",
    ("DELETE", "/v1/users/{user_id}/connections/{integration}"): "connection.deleted",
    ("POST", "/v1/customer-integrations"): "customer_integration.installed",
    ("PATCH", "/v1/customer-integrations/{integration_id}"): "customer_integration.updated",
    ("DELETE", "/v1/customer-integrations/{integration_id}"): "customer_integration.deleted",
    ("POST", "/v1/sites"): "site.created",
    ("DELETE", "/v1/sites/{site_id}"): "site.deleted",
    ("POST", "/v1/files"): "file.uploaded",
    ("DELETE", "/v1/files/{file_id}"): "file.deleted",
    ("POST", "/v1/files/{file_id}/hold"): "file.held",
    ("DELETE", "/v1/files/{file_id}/hold"): "file.released",
    ("POST", "/v1/webhook-secret"): "webhook_secret.rotated",
    ("POST", "/v1/webhook-endpoints"): "webhook_endpoint.created",
    ("PATCH", "/v1/webhook-endpoints/{endpoint_id}"): "webhook_endpoint.updated",
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"): "webhook_endpoint.deleted",
    ("POST", "/v1/webhooks/deliveries/{delivery_id}/redeliver"): "webhook_delivery.redelivered",
    ("POST", "/v1/agents"): "agent.created",
    ("POST", "/v1/agents/{agent_id}/revisions"): "revision.created",
    ("POST", "/v1/agents/{agent_id}/revisions/{revision_id}/publish"): "revision.published",
    ("PUT", "/v1/agents/{agent_id}/split"): "agent.split_set",
    ("DELETE", "/v1/agents/{agent_id}/split"): "agent.split_removed",
    # Needs production runs and a gate benchmark: tests/replays/test_gate.py.
    ("POST", "/v1/agents/{agent_id}/revisions/{revision_id}/gate"): "gate.started",
    ("POST", "/v1/keys"): "key.created",
    ("DELETE", "/v1/keys/{key_id}"): "key.revoked",
    ("PATCH", "/v1/quotas"): "quotas.updated",
    ("PUT", "/v1/models/{name}"): "model.put",
    ("DELETE", "/v1/models/{name}"): "model.deleted",
    ("PUT", "/v1/model-providers/{name}"): "model_provider.put",
    ("DELETE", "/v1/model-providers/{name}"): "model_provider.deleted",
    ("POST", "/v1/triggers"): "trigger.created",
    ("PATCH", "/v1/triggers/{trigger_id}"): "trigger.updated",
    ("DELETE", "/v1/triggers/{trigger_id}"): "trigger.deleted",
    ("POST", "/v1/triggers/{trigger_id}/enable"): "trigger.enabled",
    ("POST", "/v1/triggers/{trigger_id}/disable"): "trigger.disabled",
    ("POST", "/v1/triggers/{trigger_id}/pause"): "trigger.paused",
    ("POST", "/v1/triggers/{trigger_id}/resume"): "trigger.resumed",
    ("POST", "/v1/triggers/{trigger_id}/hook"): "run.created",
    ("PUT", "/v1/governance/policy"): "policy.updated",
    ("POST", "/v1/governance/holds"): "hold.created",
    ("POST", "/v1/governance/holds/{hold_id}/release"): "hold.released",
    # Needs a second admin of the tenant: tests/governance/test_deletion.py.
    ("POST", "/v1/governance/deletions/{request_id}/{decision}"): "deletion.approved",
    ("POST", "/v1/governance/exports"): "export.created",
    ("POST", "/v1/governance/keys/rotate"): "signing_key.rotated",
    ("POST", "/v1/benchmarks"): "benchmark.created",
    ("PATCH", "/v1/benchmarks/{benchmark_id}"): "benchmark.updated",
    ("DELETE", "/v1/benchmarks/{benchmark_id}"): "benchmark.deleted",
    ("POST", "/v1/benchmarks/{benchmark_id}/cases"): "benchmark.case_created",
    ("POST", "/v1/benchmarks/{benchmark_id}/cases/from-run"): "benchmark.case_created",
    ("DELETE", "/v1/benchmarks/{benchmark_id}/cases/{case_id}"): "benchmark.case_deleted",
    ("POST", "/v1/benchmarks/{benchmark_id}/runs"): "benchmark.suite_started",
    ("POST", "/v1/benchmarks/{benchmark_id}/runs/{suite_id}/cancel"): "benchmark.suite_cancelled",
    ("POST", "/v1/benchmarks/suites/{suite_id}/cancel"): "benchmark.suite_cancelled",
    ("POST", "/v1/runs/{run_id}/score"): "run.scored",
}
# Called in their own tests (named in the table's comments), not in the flow below.
CALLED_ELSEWHERE = {
    ("POST", "/v1/agents/{agent_id}/revisions/{revision_id}/gate"),
    ("POST", "/v1/runs/{run_id}/budget/approve"),
    ("POST", "/v1/runs/{run_id}/repair"),
    ("POST", "/v1/governance/deletions/{request_id}/{decision}"),
}
WRITES = ("post", "put", "patch", "delete")


def mutating_endpoints(app: FastAPI) -> set[tuple[str, str]]:
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/v1/")
        for method in operations
        if method in WRITES
    }


@pytest.mark.database_independent
def test_every_mutating_endpoint_is_in_the_table(app: FastAPI) -> None:
    found = mutating_endpoints(app)
    assert found - RECORDS.keys() == set(), "new endpoints: say what they record in RECORDS"
    assert RECORDS.keys() - found == set(), "endpoints gone: take them out of RECORDS"


class Calls:
    """Calls each endpoint once, noting (endpoint, target id) for the rows to find."""

    def __init__(self, api: httpx.AsyncClient) -> None:
        self.api = api
        self.made: list[tuple[tuple[str, str], str | None]] = []

    async def __call__(
        self, method: str, template: str, target: str | None, ok: int = 200, **kwargs: Any
    ) -> httpx.Response:
        values = {k[5:]: v for k, v in kwargs.items() if k.startswith("path_")}
        kwargs = {k: v for k, v in kwargs.items() if not k.startswith("path_")}
        r = await self.api.request(method, template.format(**values), **kwargs)
        assert r.status_code == ok, (method, template, r.status_code, r.text)
        self.made.append(((method, template), target))
        return r


@pytest.mark.timeout(120)
async def test_each_mutating_endpoint_records_its_action(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    call = Calls(api)
    # Runs: created two ways, archived, cancelled, rerun, duplicated, deleted, budgeted.
    run = (await call("POST", "/v1/runs", None, 201, json={"agent_id": "echo", "input": {}})).json()
    call.made[-1] = (call.made[-1][0], run["id"])
    by_agent = await call(
        "POST", "/v1/agents/{a}/runs", None, 201, path_a="echo", json={"input": {}}
    )
    call.made[-1] = (("POST", "/v1/agents/{agent_id}/runs"), by_agent.json()["id"])
    await until(api, run["id"], "succeeded")
    for verb in ("archive", "unarchive"):
        await call("POST", f"/v1/runs/{{run_id}}/{verb}", run["id"], path_run_id=run["id"])
    again = await call("POST", "/v1/runs/{run_id}/rerun", None, 201, path_run_id=run["id"], json={})
    call.made[-1] = (call.made[-1][0], again.json()["id"])
    copy = await call(
        "POST", "/v1/runs/{run_id}/duplicate", None, 201, path_run_id=run["id"], json={}
    )
    call.made[-1] = (call.made[-1][0], copy.json()["id"])
    budget = {"tokens": 100000}
    await call("PUT", "/v1/runs/{run_id}/budget", run["id"], path_run_id=run["id"], json=budget)
    slow = await start(api, "steps", {"steps": 1, "sleep": 30})
    await call("POST", "/v1/runs/{run_id}/cancel", slow["id"], 202, path_run_id=slow["id"])
    await until(api, slow["id"], "canceled")
    await call("DELETE", "/v1/runs/{run_id}", slow["id"], 204, path_run_id=slow["id"])
    await call("POST", "/v1/runs/estimate", None, json={"agent_id": "echo", "input": {}})

    # Approvals: a link minted and revoked, one decided by id, one by link.
    paused = await start(
        api, "call_tools", calls(("read_notes", {"day": "Monday"})), approval="ON_TOOL_CALL"
    )
    approval = await only_pending(api, paused["id"])
    aid = approval["id"]
    minted = await call("POST", "/v1/approvals/{approval_id}/link", aid, path_approval_id=aid)
    await call("POST", "/v1/approvals/{approval_id}/link/revoke", aid, path_approval_id=aid)
    decision = {"decision": "approve"}
    await call("POST", "/v1/approvals/{approval_id}", aid, path_approval_id=aid, json=decision)
    assert minted.json()["link"]
    other = await start(
        api, "call_tools", calls(("read_notes", {"day": "Friday"})), approval="ON_TOOL_CALL"
    )
    second = await only_pending(api, other["id"])
    token = urlparse(second["link"]).fragment
    await call("POST", "/v1/runs/approval/view", None, json={"token": token})
    body = {"token": token, "decision": "reject"}
    await call("POST", "/v1/runs/approval", second["id"], json=body)

    # Budgets of the tenant and of an agent.
    await call("PUT", "/v1/budgets/tenant", "tenant", json={"tokens": 10**9})
    await call("DELETE", "/v1/budgets/tenant", "tenant", 204)
    await call("PUT", "/v1/budgets/agents/{agent}", None, path_agent="echo", json={"tokens": 10**9})
    await call("DELETE", "/v1/budgets/agents/{agent}", None, 204, path_agent="echo")

    # Connections and customer integrations.
    path = {"path_user_id": "ann", "path_integration": "email"}
    target = "ann/email"
    put = "/v1/users/{user_id}/connections/{integration}"
    await call("PUT", put, target, json={"secret": "s3cret-value-0000"}, **path)
    await call("DELETE", put, target, 204, **path)
    installed = await call(
        "POST", "/v1/customer-integrations", None, 201, json={"integration": "notes"}
    )
    iid = installed.json()["id"]
    call.made[-1] = (call.made[-1][0], iid)
    item = "/v1/customer-integrations/{integration_id}"
    await call("PATCH", item, iid, path_integration_id=iid, json={"active": False})
    await call("DELETE", item, iid, 204, path_integration_id=iid)

    # Sites and files.
    site = (
        await call("POST", "/v1/sites", None, 201, json={"name": f"s-{uuid.uuid4().hex[:6]}"})
    ).json()
    call.made[-1] = (call.made[-1][0], site["id"])
    files = {"file": ("notes.txt", b"hello", "text/plain")}
    made = await call("POST", "/v1/files", None, 201, data={"site_id": site["id"]}, files=files)
    fid = made.json()["id"]
    call.made[-1] = (call.made[-1][0], fid)
    hold = "/v1/files/{file_id}/hold"
    await call("POST", hold, fid, path_file_id=fid, json={"reason": "audit"})
    await call("DELETE", hold, fid, path_file_id=fid)
    await call("DELETE", "/v1/files/{file_id}", fid, 204, path_file_id=fid)
    await call("DELETE", "/v1/sites/{site_id}", site["id"], 204, path_site_id=site["id"])

    # Webhooks: the secret, an endpoint, and a delivery sent again.
    await call("POST", "/v1/webhook-secret", None, json={})
    hook = {"url": "https://hooks.example.com/runplane", "events": ["*"]}
    endpoint = (await call("POST", "/v1/webhook-endpoints", None, 201, json=hook)).json()
    eid = endpoint["id"]
    call.made[-1] = (call.made[-1][0], eid)
    noticed = await start(api, "echo", {})
    await until(api, noticed["id"], "succeeded")
    delivery = None
    for _ in range(100):
        listed = (await api.get("/v1/webhooks/deliveries", params={"endpoint_id": eid})).json()
        if listed["items"]:
            delivery = listed["items"][0]["id"]
            break
        await asyncio.sleep(0.05)
    assert delivery is not None
    redeliver = "/v1/webhooks/deliveries/{delivery_id}/redeliver"
    await call("POST", redeliver, delivery, path_delivery_id=delivery)
    endpoint_path = "/v1/webhook-endpoints/{endpoint_id}"
    await call("PATCH", endpoint_path, eid, path_endpoint_id=eid, json={"enabled": False})
    await call("DELETE", endpoint_path, eid, 204, path_endpoint_id=eid)

    # Agents: a step agent created, revised, published.
    definition = json.loads(STEP_AGENT.read_text())
    definition["name"] = f"a-{uuid.uuid4().hex[:6]}"
    created = (await call("POST", "/v1/agents", None, 201, json=definition)).json()
    agent_id = created["agent"]["id"]
    call.made[-1] = (call.made[-1][0], agent_id)
    revised = {**definition, "description": "Revised."}
    rev = "/v1/agents/{agent_id}/revisions"
    second_rev = (
        await call("POST", rev, agent_id, 201, path_agent_id=agent_id, json=revised)
    ).json()
    publish = "/v1/agents/{agent_id}/revisions/{revision_id}/publish"
    await call("POST", publish, agent_id, path_agent_id=agent_id, path_revision_id=second_rev["id"])
    split = {
        "revision_a": created["revision"]["id"],
        "revision_b": second_rev["id"],
        "percent_b": 10,
    }
    await call("PUT", "/v1/agents/{agent_id}/split", agent_id, path_agent_id=agent_id, json=split)
    await call("DELETE", "/v1/agents/{agent_id}/split", agent_id, 204, path_agent_id=agent_id)

    # Keys, quotas, models and providers.
    key = (await call("POST", "/v1/keys", None, 201, json={"name": "k", "role": "member"})).json()
    call.made[-1] = (call.made[-1][0], key["id"])
    await call("DELETE", "/v1/keys/{key_id}", key["id"], 204, path_key_id=key["id"])
    await call("PATCH", "/v1/quotas", None, json={"max_running": 5})
    model = {
        "provider": "openai",
        "context_window": 8192,
        "input_per_mtok": 0.1,
        "output_per_mtok": 0.2,
    }
    await call("PUT", "/v1/models/{name}", "my-model", path_name="my-model", json=model)
    await call("DELETE", "/v1/models/{name}", "my-model", 204, path_name="my-model")
    provider = {"kind": "openai", "base_url": "https://api.openai.example/v1"}
    await call("PUT", "/v1/model-providers/{name}", "mine", path_name="mine", json=provider)
    await call("DELETE", "/v1/model-providers/{name}", "mine", 204, path_name="mine")

    # Triggers: made, changed, switched, fired by a signed delivery, deleted.
    trig = (
        await call("POST", "/v1/triggers", None, 201, json={"kind": "webhook", "agent_id": "echo"})
    ).json()
    tid = trig["id"]
    call.made[-1] = (call.made[-1][0], tid)
    await call(
        "PATCH", "/v1/triggers/{trigger_id}", tid, path_trigger_id=tid, json={"name": "renamed"}
    )
    for verb in ("disable", "enable"):
        await call("POST", f"/v1/triggers/{{trigger_id}}/{verb}", tid, path_trigger_id=tid)
    schedule = {"kind": "schedule", "agent_id": "echo", "schedule": "0 0 1 1 *", "input": {}}
    sid = (await api.post("/v1/triggers", json=schedule)).json()["id"]
    for verb in ("pause", "resume"):
        await call("POST", f"/v1/triggers/{{trigger_id}}/{verb}", sid, path_trigger_id=sid)
    payload = b'{"message": "hi"}'
    signed = sign_headers(
        [trig["secret"]], f"msg_{uuid.uuid4().hex}", int(utcnow().timestamp()), payload
    )
    fired = await anonymous.post(
        f"/v1/triggers/{tid}/hook",
        content=payload,
        headers={**signed, "content-type": "application/json"},
    )
    assert fired.status_code == 202, fired.text
    call.made.append((("POST", "/v1/triggers/{trigger_id}/hook"), fired.json()["run_id"]))
    await call("DELETE", "/v1/triggers/{trigger_id}", tid, 204, path_trigger_id=tid)

    # Governance: the policy (the default, with a comment), a hold, an export, a new key.
    await call("PUT", "/v1/governance/policy", None, json={"document": {}, "comment": "same"})
    held = await call(
        "POST", "/v1/governance/holds", None, 201, json={"run_id": run["id"], "reason": "audit"}
    )
    hid = held.json()["id"]
    call.made[-1] = (call.made[-1][0], hid)
    release = "/v1/governance/holds/{hold_id}/release"
    await call("POST", release, hid, path_hold_id=hid)
    export = await call("POST", "/v1/governance/exports", None, 202, json={"run_ids": [run["id"]]})
    call.made[-1] = (call.made[-1][0], export.json()["id"])
    rotated = await call("POST", "/v1/governance/keys/rotate", None, 201)
    call.made[-1] = (call.made[-1][0], rotated.json()["id"])

    # Benchmarks: defined, changed, cases added (by hand and from a run), a suite started
    # and cancelled, a run scored by hand, a case and the benchmark deleted.
    scorers = [{"type": "regex", "pattern": "."}]
    bench = (
        await call(
            "POST",
            "/v1/benchmarks",
            None,
            201,
            json={"agent_id": "steps", "name": "b", "scorers": scorers},
        )
    ).json()
    bid = bench["id"]
    call.made[-1] = (call.made[-1][0], bid)
    await call(
        "PATCH",
        "/v1/benchmarks/{benchmark_id}",
        bid,
        path_benchmark_id=bid,
        json={"description": "d"},
    )
    cases = "/v1/benchmarks/{benchmark_id}/cases"
    case = (
        await call(
            "POST",
            cases,
            None,
            201,
            path_benchmark_id=bid,
            json={"input": {"steps": 1, "sleep": 30}},
        )
    ).json()
    call.made[-1] = (call.made[-1][0], case["id"])
    echo_bench = (
        await api.post("/v1/benchmarks", json={"agent_id": "echo", "name": "e", "scorers": scorers})
    ).json()
    saved = await call(
        "POST",
        cases + "/from-run",
        None,
        201,
        path_benchmark_id=echo_bench["id"],
        json={"run_id": run["id"]},
    )
    call.made[-1] = (("POST", "/v1/benchmarks/{benchmark_id}/cases/from-run"), saved.json()["id"])
    suite = (
        await call(
            "POST", "/v1/benchmarks/{benchmark_id}/runs", None, 201, path_benchmark_id=bid, json={}
        )
    ).json()
    call.made[-1] = (call.made[-1][0], suite["id"])
    cancel = "/v1/benchmarks/{benchmark_id}/runs/{suite_id}/cancel"
    await call("POST", cancel, suite["id"], path_benchmark_id=bid, path_suite_id=suite["id"])
    suite = (await api.post(f"/v1/benchmarks/{bid}/runs", json={})).json()
    cancel = "/v1/benchmarks/suites/{suite_id}/cancel"
    await call("POST", cancel, suite["id"], path_suite_id=suite["id"])
    await call(
        "POST",
        "/v1/runs/{run_id}/score",
        run["id"],
        201,
        path_run_id=run["id"],
        json={"benchmark_id": echo_bench["id"]},
    )
    case_path = "/v1/benchmarks/{benchmark_id}/cases/{case_id}"
    await call("DELETE", case_path, case["id"], 204, path_benchmark_id=bid, path_case_id=case["id"])
    await call("DELETE", "/v1/benchmarks/{benchmark_id}", bid, 204, path_benchmark_id=bid)

    called = {endpoint for endpoint, _ in call.made}
    assert called | CALLED_ELSEWHERE == set(RECORDS), set(RECORDS) - called - CALLED_ELSEWHERE
    rows = (await api.get("/v1/governance/activity", params={"limit": 500})).json()["items"]
    seen = {(r["action"], r["target_id"]) for r in rows}
    actions = {r["action"] for r in rows}
    for endpoint, target in call.made:
        action = RECORDS[endpoint]
        if action == READS_ONLY:
            continue
        if target is None:
            assert action in actions, (endpoint, action)
        else:
            assert (action, target) in seen, (endpoint, action, target)
    # Nothing was recorded that did not happen: a read-only POST left no row.
    assert len(rows) < 500
