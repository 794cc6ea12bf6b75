"""Benchmarks through the API: definitions, cases, "save as case", suite runs, scores."""

import asyncio
import uuid

import httpx
import pytest

pytestmark = pytest.mark.timeout(90)

ECHO_SCORERS = [
    {"type": "exact"},
    {"type": "json_fields", "name": "fields", "fields": {"n": 0.5}},
    {"type": "latency", "max_ms": 60000},
]


async def make_benchmark(api: httpx.AsyncClient, **extra: object) -> dict:
    body = {"agent_id": "echo", "name": f"b-{uuid.uuid4().hex[:6]}", "scorers": ECHO_SCORERS}
    r = await api.post("/v1/benchmarks", json={**body, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def add_case(
    api: httpx.AsyncClient, bench: str, input: object, expected: object, **kw: object
) -> dict:
    r = await api.post(
        f"/v1/benchmarks/{bench}/cases", json={"input": input, "expected": expected, **kw}
    )
    assert r.status_code == 201, r.text
    return r.json()


async def finished(api: httpx.AsyncClient, bench: str, suite: str) -> dict:
    r = await api.get(f"/v1/benchmarks/{bench}/runs/{suite}", params={"wait": 60})
    assert r.status_code == 200, r.text
    assert r.json()["status"] != "running", r.json()
    return r.json()


async def run_ended(api: httpx.AsyncClient, run_id: str) -> dict:
    for _ in range(1500):
        run = (await api.get(f"/v1/runs/{run_id}")).json()
        if run["status"] in ("succeeded", "failed", "canceled"):
            return run
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} did not end")


async def test_a_benchmark_is_created_listed_read_changed_and_deleted(
    api: httpx.AsyncClient,
) -> None:
    bench = await make_benchmark(api, description="echo checks")
    assert bench["agent_name"] == "echo" and bench["case_count"] == 0
    assert [s["type"] for s in bench["scorers"]] == ["exact", "json_fields", "latency"]
    other = await make_benchmark(api)
    listed = (await api.get("/v1/benchmarks", params={"agent_id": "echo", "limit": 1})).json()
    assert [b["id"] for b in listed["items"]] == [other["id"]]
    rest = await api.get(
        "/v1/benchmarks", params={"continuation_token": listed["continuation_token"]}
    )
    # The older ones: this one, then the project's example benchmarks (runplane.toml).
    assert rest.json()["items"][0]["id"] == bench["id"]
    gate = {"thresholds": {"exact": 0.9}}
    changed = await api.patch(f"/v1/benchmarks/{bench['id']}", json={"gate": gate})
    assert changed.status_code == 200, changed.text
    assert changed.json()["gate"]["thresholds"] == {"exact": 0.9}
    assert changed.json()["description"] == "echo checks"
    bad = await api.patch(
        f"/v1/benchmarks/{bench['id']}", json={"gate": {"thresholds": {"nope": 1}}}
    )
    assert bad.status_code == 422
    assert bad.json()["details"][0]["name"] == "gate.thresholds.nope"
    twice = await api.post(
        "/v1/benchmarks", json={"agent_id": "echo", "name": bench["name"], "scorers": ECHO_SCORERS}
    )
    assert twice.status_code == 409
    assert (await api.delete(f"/v1/benchmarks/{bench['id']}")).status_code == 204
    gone = await api.get(f"/v1/benchmarks/{bench['id']}")
    assert gone.status_code == 404 and gone.json()["status_code"] == 404


async def test_a_python_scorer_whose_path_does_not_import_is_refused_at_save(
    api: httpx.AsyncClient,
) -> None:
    body = {
        "agent_id": "echo",
        "name": "py",
        "scorers": [{"type": "exact"}, {"type": "python", "path": "no_such_module:score"}],
    }
    r = await api.post("/v1/benchmarks", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["details"][0]["name"] == "scorers.1.path"
    ok = {**body, "scorers": [{"type": "python", "path": "examples.scorers:has_message"}]}
    assert (await api.post("/v1/benchmarks", json=ok)).status_code == 201


async def test_a_succeeded_run_is_saved_as_a_case_with_its_result_as_reference(
    api: httpx.AsyncClient,
) -> None:
    bench = await make_benchmark(api)
    run = (await api.post("/v1/runs", json={"agent_id": "echo", "input": {"n": 3}})).json()
    await run_ended(api, run["id"])
    r = await api.post(
        f"/v1/benchmarks/{bench['id']}/cases/from-run",
        json={"run_id": run["id"], "name": "three", "tags": ["smoke"]},
    )
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["input"] == {"n": 3} and case["expected"] == {"n": 3}
    assert case["source_run_id"] == run["id"] and case["tags"] == ["smoke"]
    got = await api.get(f"/v1/benchmarks/{bench['id']}/cases/{case['id']}")
    assert got.json()["name"] == "three"
    slow = (
        await api.post("/v1/runs", json={"agent_id": "steps", "input": {"steps": 1, "sleep": 30}})
    ).json()
    other = await make_benchmark(api, agent_id="steps", scorers=[{"type": "regex", "pattern": "."}])
    refused = await api.post(
        f"/v1/benchmarks/{other['id']}/cases/from-run", json={"run_id": slow["id"]}
    )
    assert refused.status_code == 409, refused.text
    await api.post(f"/v1/runs/{slow['id']}/cancel")
    assert (await api.delete(f"/v1/benchmarks/{bench['id']}/cases/{case['id']}")).status_code == 204
    listed = (await api.get(f"/v1/benchmarks/{bench['id']}/cases")).json()
    assert listed["items"] == []


async def test_a_suite_runs_every_case_scores_it_and_sums_up(api: httpx.AsyncClient) -> None:
    bench = await make_benchmark(api, gate={"thresholds": {"exact": 0.6, "fields": 0.5}})
    for n in range(4):
        await add_case(api, bench["id"], {"n": n}, {"n": n}, name=f"n{n}", tags=["good"])
    await add_case(api, bench["id"], {"n": 9}, {"n": 7}, name="wrong", tags=["bad"])
    r = await api.post(f"/v1/benchmarks/{bench['id']}/runs", json={"concurrency": 2})
    assert r.status_code == 201, r.text
    started = r.json()
    assert started["status"] == "running" and started["case_count"] == 5
    suite = await finished(api, bench["id"], started["id"])
    assert suite["status"] == "succeeded" and suite["passed"] is True, suite
    summary = suite["summary"]
    assert summary["scorers"]["exact"]["pass_rate"] == 0.8
    assert summary["scorers"]["fields"]["met"] is True
    assert summary["counts"] == {"cases": 5, "passed": 4, "failed": 1, "error": 0, "pending": 0}
    assert (
        summary["latency_ms"]["p50"] >= 0
        and summary["latency_ms"]["p95"] >= summary["latency_ms"]["p50"]
    )
    results = (
        await api.get(
            f"/v1/benchmarks/{bench['id']}/runs/{suite['id']}/results", params={"limit": 50}
        )
    ).json()["items"]
    assert len(results) == 5 and all(r["status"] == "scored" for r in results)
    wrong = next(r for r in results if not r["passed"])
    assert wrong["diff"] == {
        "equal": False,
        "fields": [{"field": "n", "output": 9, "reference": 7}],
    }
    run = (await api.get(f"/v1/runs/{wrong['run_id']}")).json()
    assert run["trigger"] == "benchmark"
    assert run["metadata"]["benchmark_suite"] == suite["id"]
    assert run["revision_id"] == suite["revision_id"]
    scores = (await api.get(f"/v1/runs/{wrong['run_id']}/scores")).json()["items"]
    assert [s["id"] for s in scores] == [wrong["id"]]

    # A stricter gate fails: the suite passes only if each threshold is met.
    await api.patch(f"/v1/benchmarks/{bench['id']}", json={"gate": {"thresholds": {"exact": 1}}})
    strict = (await api.post(f"/v1/benchmarks/{bench['id']}/runs", json={"tags": ["bad"]})).json()
    assert strict["case_count"] == 1
    failed = await finished(api, bench["id"], strict["id"])
    assert failed["passed"] is False
    assert failed["summary"]["failed_thresholds"] == [
        {"scorer": "exact", "pass_rate": 0.0, "threshold": 1.0}
    ]
    listed = (await api.get(f"/v1/benchmarks/{bench['id']}/runs")).json()["items"]
    assert [s["id"] for s in listed] == [strict["id"], suite["id"]]


async def test_a_suite_with_no_case_or_no_such_revision_is_refused(api: httpx.AsyncClient) -> None:
    bench = await make_benchmark(api)
    empty = await api.post(f"/v1/benchmarks/{bench['id']}/runs", json={})
    assert empty.status_code == 422
    await add_case(api, bench["id"], {}, {})
    missing = await api.post(f"/v1/benchmarks/{bench['id']}/runs", json={"revision_id": "rev_x"})
    assert missing.status_code == 404
    assert missing.json()["details"][0]["name"] == "revision_id"


async def test_cancelling_a_suite_stops_its_runs_and_ends_it_cancelled(
    api: httpx.AsyncClient,
) -> None:
    bench = await make_benchmark(api, agent_id="steps", scorers=[{"type": "regex", "pattern": "."}])
    for _ in range(3):
        await add_case(api, bench["id"], {"steps": 1, "sleep": 30}, None)
    suite = (await api.post(f"/v1/benchmarks/{bench['id']}/runs", json={"concurrency": 1})).json()
    results_path = f"/v1/benchmarks/{bench['id']}/runs/{suite['id']}/results"
    for _ in range(500):
        items = (await api.get(results_path)).json()["items"]
        if any(r["run_id"] for r in items):
            break
        await asyncio.sleep(0.02)
    r = await api.post(f"/v1/benchmarks/{bench['id']}/runs/{suite['id']}/cancel")
    assert r.status_code == 200, r.text
    ended = await finished(api, bench["id"], suite["id"])
    assert ended["status"] == "cancelled" and ended["passed"] is None
    items = (await api.get(results_path)).json()["items"]
    started = [i for i in items if i["run_id"]]
    assert len(started) == 1, items
    run = (await api.get(f"/v1/runs/{started[0]['run_id']}")).json()
    assert run["status"] == "canceled"
    assert sorted(i["status"] for i in items) == ["error", "error", "scored"]
    again = await api.post(f"/v1/benchmarks/{bench['id']}/runs/{suite['id']}/cancel")
    assert again.status_code == 409


async def test_a_run_is_scored_by_hand_with_reference_free_scorers(api: httpx.AsyncClient) -> None:
    scorers = [
        {"type": "json_schema", "schema": {"type": "object", "required": ["message"]}},
        {"type": "contains", "text": "hello"},
        {"type": "exact"},
    ]
    bench = await make_benchmark(api, scorers=scorers)
    run = (
        await api.post("/v1/runs", json={"agent_id": "echo", "input": {"message": "hello"}})
    ).json()
    await run_ended(api, run["id"])
    r = await api.post(f"/v1/runs/{run['id']}/score", json={"benchmark_id": bench["id"]})
    assert r.status_code == 201, r.text
    result = r.json()
    verdicts = {v["scorer"]: v["passed"] for v in result["scores"]}
    # With no case there is no reference: exact compares with nothing and fails.
    assert verdicts == {"json_schema": True, "contains": True, "exact": False}
    assert result["kind"] == "manual" and result["passed"] is False
    listed = (await api.get(f"/v1/runs/{run['id']}/scores")).json()["items"]
    assert [i["id"] for i in listed] == [result["id"]]
    other = await make_benchmark(api, agent_id="steps", scorers=[{"type": "regex", "pattern": "."}])
    wrong = await api.post(f"/v1/runs/{run['id']}/score", json={"benchmark_id": other["id"]})
    assert wrong.status_code == 422


async def test_finished_production_runs_are_scored_on_completion(api: httpx.AsyncClient) -> None:
    scorers = [{"type": "contains", "text": "hi"}]
    bench = await make_benchmark(api, scorers=scorers, on_completion={"sample_percent": 100})
    off = await make_benchmark(api, scorers=scorers, on_completion={"sample_percent": 0})
    run = (await api.post("/v1/runs", json={"agent_id": "echo", "input": {"m": "hi"}})).json()
    await run_ended(api, run["id"])
    for _ in range(500):
        items = (await api.get(f"/v1/runs/{run['id']}/scores")).json()["items"]
        if items:
            break
        await asyncio.sleep(0.05)
    assert [(i["benchmark_id"], i["kind"], i["passed"]) for i in items] == [
        (bench["id"], "completion", True)
    ]
    assert off["id"] not in {i["benchmark_id"] for i in items}


async def test_the_example_agents_get_benchmarks_whose_suites_pass_their_gates(
    api: httpx.AsyncClient,
) -> None:
    listed = (await api.get("/v1/benchmarks", params={"limit": 100})).json()["items"]
    examples = {b["name"]: b for b in listed}
    assert {"echo-regression", "research-regression"} <= examples.keys()
    for name in ("echo-regression", "research-regression"):
        bench = examples[name]
        assert bench["case_count"] >= 5 and bench["gate"]["thresholds"]
        started = (await api.post(f"/v1/benchmarks/{bench['id']}/runs", json={})).json()
        suite = await finished(api, bench["id"], started["id"])
        assert suite["status"] == "succeeded" and suite["passed"] is True, suite["summary"]
        assert suite["summary"]["counts"]["passed"] == bench["case_count"]
