"""A suite whose driver died is taken over and finished, starting no case twice.

The crash is simulated in the test's own process: the driver task is cancelled between
two cases and the suite row's owner set to an executor that does not exist (as after a
process was declared dead); then the takeover round (``resume_orphaned``, which the
background loop runs) adopts it.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest

from runplane.services import suites
from runplane.services.runtime import Runtime
from runplane.store import benchmark_runs as store
from runplane.store import tenants as tenants_store

pytestmark = pytest.mark.timeout(90)


async def test_a_suite_whose_driver_died_is_resumed_and_starts_no_case_twice(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]], rt: Runtime
) -> None:
    name = f"t-{uuid.uuid4().hex[:10]}"
    api = await make_client(tenant=name)
    async with rt.db.read() as conn:
        found = await tenants_store.get_tenant_by_name(conn, name)
    assert found is not None
    tenant = str(found["id"])
    body = {"agent_id": "steps", "name": "resume", "scorers": [{"type": "regex", "pattern": "."}]}
    bench = (await api.post("/v1/benchmarks", json=body)).json()
    for _ in range(3):
        case = {"input": {"steps": 1, "sleep": 0.3}, "expected": None}
        assert (await api.post(f"/v1/benchmarks/{bench['id']}/cases", json=case)).status_code == 201
    suite = (await api.post(f"/v1/benchmarks/{bench['id']}/runs", json={"concurrency": 1})).json()
    for _ in range(500):
        async with rt.db.read() as conn:
            results = await store.results_of_suite(conn, tenant, suite["id"])
        if results[0]["run_id"] is not None:
            break
        await asyncio.sleep(0.01)

    # The crash: the driver stops between cases, and its process is gone.
    driver = next(t for t in rt.background_tasks if t.get_name() == f"suite:{suite['id']}")
    driver.cancel()
    await asyncio.gather(driver, return_exceptions=True)
    first_run = results[0]["run_id"]
    assert first_run is not None and results[1]["run_id"] is None
    async with rt.db.write() as conn:
        await store.update_suite(conn, suite["id"], {"owner": "executor-that-died"})
        # As if it died after making the first run but before noting it on its result:
        # the run's idempotency key finds that run again.
        await store.update_result(conn, results[0]["id"], {"run_id": None})

    assert await suites.resume_orphaned(rt) == [suite["id"]]
    assert await suites.resume_orphaned(rt) == []  # driven here now: not taken twice
    path = f"/v1/benchmarks/{bench['id']}/runs/{suite['id']}"
    done = (await api.get(path, params={"wait": 60})).json()
    assert done["status"] == "succeeded" and done["passed"] is True, done
    async with rt.db.read() as conn:
        after = await store.results_of_suite(conn, tenant, suite["id"])
        mine = await store.get_suite(conn, tenant, suite["id"])
    assert mine is not None and mine["owner"] == rt.engine.executor_id
    assert after[0]["run_id"] == first_run
    assert all(r["status"] == "scored" and r["passed"] for r in after)
    runs = (await api.get("/v1/runs", params={"agent_id": "steps", "limit": 100})).json()["items"]
    of_suite = [r for r in runs if (r.get("metadata") or {}).get("benchmark_suite") == suite["id"]]
    assert len(of_suite) == 3, [r["id"] for r in of_suite]
