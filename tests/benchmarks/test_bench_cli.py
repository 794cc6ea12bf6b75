"""``runplane bench`` against a live server, and the Python client in-process."""

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from runplane import AsyncClient, Client
from runplane.cli import app as cli
from runplane.services import auth
from runplane.services.runtime import Runtime

pytestmark = pytest.mark.timeout(120)


def _runner(live_server: Any) -> CliRunner:
    env = {"RUNPLANE_URL": live_server.url, "RUNPLANE_API_KEY": live_server.key, "COLUMNS": "250"}
    return CliRunner(env=env)


def test_bench_run_prints_tables_and_its_exit_code_is_the_gate(
    live_server: Any, tmp_path: Path
) -> None:
    runner = _runner(live_server)
    name = f"cli-{uuid.uuid4().hex[:6]}"
    definition = {
        "agent_id": "echo",
        "name": name,
        "scorers": [{"type": "exact"}, {"type": "latency", "max_ms": 60000}],
        "gate": {"thresholds": {"exact": 1.0}},
        "cases": [
            {"name": "hello", "input": {"m": "hello"}, "expected": {"m": "hello"}, "tags": ["ok"]},
            {"name": "bye", "input": {"m": "bye"}, "expected": {"m": "bye"}, "tags": ["ok"]},
            {"name": "regressed", "input": {"m": "x"}, "expected": {"m": "y"}, "tags": ["bad"]},
        ],
    }
    file = tmp_path / "bench.json"
    file.write_text(json.dumps(definition))
    made = runner.invoke(cli, ["bench", "create", "--file", str(file)])
    assert made.exit_code == 0, made.output
    bench_id = re.search(r"bch_\w+", made.output)
    assert bench_id is not None and name in made.output

    cases = runner.invoke(cli, ["bench", "cases", bench_id.group(0)])
    assert cases.exit_code == 0, cases.output
    assert all(n in cases.output for n in ("hello", "bye", "regressed"))

    good = runner.invoke(cli, ["bench", "run", "echo", "--benchmark", name, "--tag", "ok"])
    assert good.exit_code == 0, good.output
    assert "hello" in good.output and "bye" in good.output and "regressed" not in good.output
    assert "gate passed" in good.output and "100%" in good.output

    bad = runner.invoke(cli, ["bench", "run", "echo", "-b", name, "-c", "2", "--json"])
    assert bad.exit_code == 1, bad.output
    data = json.loads(bad.output)
    assert data["suite"]["passed"] is False and len(data["results"]) == 3
    failing = [r for r in data["results"] if not r["passed"]]
    assert [r["name"] for r in failing] == ["regressed"]

    shown = runner.invoke(cli, ["bench", "results", data["suite"]["id"]])
    assert shown.exit_code == 0, shown.output
    assert "gate failed" in shown.output and "regressed" in shown.output

    listed = runner.invoke(cli, ["bench", "list", "--agent", "echo"])
    assert listed.exit_code == 0 and name in listed.output

    with Client(live_server.url, live_server.key) as client:
        run = client.runs.create("echo", input={"m": "saved"}, wait=30)
    saved = runner.invoke(cli, ["bench", "save-case", run.id, "--benchmark", name])
    assert saved.exit_code == 0, saved.output
    assert f"saved from {run.id}" in saved.output


async def test_the_async_client_runs_a_suite_and_scores_a_run(app: FastAPI, rt: Runtime) -> None:
    key = await auth.create_key(rt.db, f"c-{uuid.uuid4().hex[:10]}", None, "admin")
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("http://runplane.test", key, transport=transport) as client:
        bench = await client.benchmarks.create(
            "echo", "client", [{"type": "exact"}, {"type": "contains", "text": "a"}]
        )
        case = await client.benchmarks.add_case(bench.id, input={"a": 1}, expected={"a": 1})
        assert (await client.benchmarks.get_case(bench.id, case.id)).expected == {"a": 1}
        suite = await client.benchmarks.run_suite(bench.id, concurrency=1)
        done = await client.benchmarks.wait_suite(suite.id, timeout=60, poll=5)
        assert done.status == "succeeded" and done.passed is True
        results = (await client.benchmarks.results(suite.id)).items
        assert len(results) == 1 and results[0].passed
        run_id = results[0].run_id
        assert run_id is not None
        scored = await client.benchmarks.score_run(run_id, bench.id)
        assert scored.kind == "manual"
        assert {r.id for r in (await client.benchmarks.scores(run_id)).items} == {
            scored.id,
            results[0].id,
        }
        saved = await client.benchmarks.from_run(bench.id, run_id, tags=["x"])
        assert saved.source_run_id == run_id
        changed = await client.benchmarks.update(bench.id, description="d")
        assert changed.description == "d" and changed.case_count == 2
        assert [s.id for s in (await client.benchmarks.suites(bench.id)).items] == [suite.id]
        await client.benchmarks.delete_case(bench.id, case.id)
        await client.benchmarks.delete(bench.id)
        left = (await client.benchmarks.list(agent_id="echo")).items
        assert bench.id not in {b.id for b in left}
