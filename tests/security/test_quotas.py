"""Per-tenant quotas: a tenant that floods the server is refused (429) or held back, never
another tenant; the limits are the server's defaults unless the tenant has lower ones."""

import asyncio
import math
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

HOLD = {"steps": 1, "sleep": 30}  # a run that keeps its slot until it is canceled


async def _run(api: httpx.AsyncClient, input: object, **extra: object) -> dict[str, Any]:
    r = await api.post("/v1/runs", json={"agent_id": "steps", "input": input, **extra})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _runs(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await api.get("/v1/runs", params={"limit": 100})
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def _cancel_all(api: httpx.AsyncClient) -> None:
    for run in await _runs(api):
        if run["status"] not in ("succeeded", "failed", "canceled"):
            await api.post(f"/v1/runs/{run['id']}/cancel")


async def _quotas(api: httpx.AsyncClient, **patch: object) -> dict[str, Any]:
    r = await api.patch("/v1/quotas", json=patch)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def _ended(api: httpx.AsyncClient, run_id: str, timeout: float = 30) -> dict[str, Any]:
    r = await api.get(f"/v1/runs/{run_id}", params={"wait": timeout})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_a_run_over_the_queued_quota_is_a_429_with_retry_after_and_nothing_is_made(
    api: httpx.AsyncClient,
) -> None:
    await _quotas(api, max_running=1, max_queued=2)
    try:
        running = await _run(api, HOLD)
        await _status(api, running["id"], "running")  # started: no longer queued
        await _run(api, HOLD)  # held: the tenant has one in flight already
        await _run(api, HOLD)  # held: the queue is now full
        r = await api.post("/v1/runs", json={"agent_id": "steps", "input": HOLD})
        assert r.status_code == 429, r.text
        assert int(r.headers["Retry-After"]) >= 1
        body = r.json()
        assert body["status_code"] == 429
        assert "queued" in body["message"]
        assert {"name": "max_queued", "value": 2} in body["details"]
        assert len(await _runs(api)) == 3
    finally:
        await _cancel_all(api)


async def _status(api: httpx.AsyncClient, run_id: str, status: str) -> None:
    deadline = time.monotonic() + 20
    while (await api.get(f"/v1/runs/{run_id}")).json()["status"] != status:
        assert time.monotonic() < deadline, f"{run_id} never became {status}"
        await asyncio.sleep(0.05)


async def test_a_batch_over_the_queued_quota_creates_none_of_its_runs(
    api: httpx.AsyncClient,
) -> None:
    await _quotas(api, max_queued=3)
    batch = [{"assistant_id": "lg_echo", "input": {"message": str(i)}} for i in range(4)]
    r = await api.post("/runs/batch", json=batch)
    assert r.status_code == 429, r.text
    assert int(r.headers["Retry-After"]) >= 1
    assert await _runs(api) == []
    r = await api.post("/runs/batch", json=batch[:3])
    assert r.status_code == 200, r.text
    assert len(await _runs(api)) == 3


async def test_runs_over_the_running_quota_wait_their_turn_one_at_a_time(
    api: httpx.AsyncClient,
) -> None:
    await _quotas(api, max_running=1)
    made = [await _run(api, {"steps": 1, "sleep": 0.3}) for _ in range(3)]
    usage = (await api.get("/v1/quotas")).json()["usage"]
    assert usage["held"] >= 1  # held back by the quota, not refused
    ended = [await _ended(api, run["id"]) for run in made]
    assert [run["status"] for run in ended] == ["succeeded"] * 3
    # No two ran at once, and they ran in the order they were made.
    for before, after in zip(ended, ended[1:], strict=False):
        assert _at(after["started_at"]) >= _at(before["finished_at"])


async def test_another_tenant_is_not_held_back_by_a_tenant_at_its_running_quota(
    make_client: Callable[..., Any],
) -> None:
    greedy, other = await make_client(), await make_client()
    await _quotas(greedy, max_running=2)
    try:
        for _ in range(6):
            await _run(greedy, HOLD)
        usage = (await greedy.get("/v1/quotas")).json()["usage"]
        assert usage["running"] + usage["waiting"] <= 2
        assert usage["held"] >= 4
        run = await _run(other, {"steps": 1, "sleep": 0}, wait=20)
        assert run["status"] == "succeeded"
    finally:
        await _cancel_all(greedy)


async def test_quotas_show_defaults_and_usage_and_only_admins_may_lower_them(
    make_client: Callable[..., Any],
) -> None:
    admin = await make_client()
    tenant = (await admin.get("/v1/quotas")).json()
    assert tenant["max_running"] == tenant["default_max_running"] >= 1
    assert tenant["max_queued"] == tenant["default_max_queued"]
    assert tenant["usage"] == {"running": 0, "waiting": 0, "held": 0, "queued": 0}
    assert tenant["sse_max_per_key"] >= 1 and tenant["sse_max_seconds"] > 0

    member = await make_client("member", tenant=None)
    r = await member.patch("/v1/quotas", json={"max_running": 1})
    assert r.status_code == 403, r.text

    # An admin key may tighten its tenant's quotas, never loosen them past the defaults.
    above = tenant["default_max_running"] + 1
    r = await admin.patch("/v1/quotas", json={"max_running": above})
    assert r.status_code == 403, r.text
    assert (await admin.get("/v1/quotas")).json()["max_running"] == tenant["max_running"]
    r = await admin.patch("/v1/quotas", json={"max_running": 0})
    assert r.status_code == 422, r.text
    r = await admin.patch("/v1/quotas", json={"max_parallel": 3})
    assert r.status_code == 422, r.text

    lowered = await _quotas(admin, max_running=1, max_queued=5)
    assert (lowered["max_running"], lowered["max_queued"]) == (1, 5)
    restored = await _quotas(admin, max_running=None)
    assert restored["max_running"] == tenant["default_max_running"]
    assert restored["max_queued"] == 5


async def test_a_delayed_run_holds_no_slot_until_it_is_due(api: httpx.AsyncClient) -> None:
    r = await api.post(
        "/runs", json={"assistant_id": "lg_echo", "input": {"message": "later"}, "after_seconds": 2}
    )
    assert r.status_code == 200, r.text
    run_id = r.json()["run_id"]
    usage = (await api.get("/v1/quotas")).json()["usage"]
    assert usage == {"running": 0, "waiting": 0, "held": 1, "queued": 1}
    run = await _ended(api, run_id)
    assert run["status"] == "succeeded"
    waited = (_at(run["started_at"]) - _at(run["created_at"])).total_seconds()
    assert waited >= 2.0
    assert math.isfinite(waited)


async def test_a_canceled_held_run_ends_at_once_and_never_starts(api: httpx.AsyncClient) -> None:
    await _quotas(api, max_running=1)
    try:
        await _run(api, HOLD)
        held = await _run(api, {"steps": 1, "sleep": 0})
        r = await api.post(f"/v1/runs/{held['id']}/cancel")
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "canceled"
        await asyncio.sleep(1.5)  # a release sweep has passed
        run = (await api.get(f"/v1/runs/{held['id']}")).json()
        assert run["status"] == "canceled"
        assert run["started_at"] is None
    finally:
        await _cancel_all(api)


async def test_the_operator_may_give_a_tenant_more_than_the_defaults_from_the_command_line(
    make_client: Callable[..., Any], settings: Any
) -> None:
    from typer.testing import CliRunner

    from runplane.cli import app as cli

    name = f"big-{uuid.uuid4().hex[:8]}"
    admin = await make_client(tenant=name)
    default = (await admin.get("/v1/quotas")).json()["default_max_running"]
    argv = ["quotas", "set", name, "--max-running", str(default * 4)]
    argv += ["--database-url", settings.database_url]
    result = await asyncio.to_thread(CliRunner().invoke, cli, argv)
    assert result.exit_code == 0, result.output
    assert f"max_running={default * 4}" in result.output
    deadline = time.monotonic() + 10  # quotas are cached for a few seconds
    while (await admin.get("/v1/quotas")).json()["max_running"] != default * 4:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.5)

    missing = ["quotas", "set", "no-such-tenant", "--max-running", "3"]
    missing += ["--database-url", settings.database_url]
    result = await asyncio.to_thread(CliRunner().invoke, cli, missing)
    assert result.exit_code == 1
    assert "no tenant" in result.output
