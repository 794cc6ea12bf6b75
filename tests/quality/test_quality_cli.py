"""``runplane quality`` against the live server, and ``client.quality`` in-process."""

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from runplane import AsyncClient
from runplane.cli import app as cli
from runplane.services import auth
from runplane.services.runtime import Runtime

pytestmark = pytest.mark.timeout(120)


def test_runplane_quality_prints_the_figures_of_a_suite(live_server: Any) -> None:
    name = f"cli-q-{uuid.uuid4().hex[:6]}"
    with live_server.client() as api:
        # An agent of its own (the live tenant is shared): a step agent on the offline model.
        agent = {
            "name": name,
            "kind": "steps",
            "model": {"name": "offline"},
            "steps": [{"name": "say", "instructions": "Say hello to {{ input.who }}."}],
        }
        made = api.post("/v1/agents", json=agent)
        assert made.status_code == 201, made.text
        revision = made.json()["revision"]["id"]
        scorers = [{"type": "regex", "name": "greets", "pattern": "(?i)hello"}]
        bench = api.post(
            "/v1/benchmarks", json={"agent_id": name, "name": "b", "scorers": scorers}
        ).json()
        for who in ("Ada", "Alan"):
            case = {"input": {"who": who}, "expected": who}
            assert api.post(f"/v1/benchmarks/{bench['id']}/cases", json=case).status_code == 201
        suite = api.post(
            f"/v1/benchmarks/{bench['id']}/runs", json={"revision_id": revision}
        ).json()
        done = api.get(f"/v1/benchmarks/{bench['id']}/runs/{suite['id']}", params={"wait": 60})
        assert done.json()["status"] == "succeeded", done.text

    env = {"RUNPLANE_URL": live_server.url, "RUNPLANE_API_KEY": live_server.key, "COLUMNS": "200"}
    runner = CliRunner(env=env)
    shown = runner.invoke(cli, ["quality", name])
    assert shown.exit_code == 0, shown.output
    assert "per revision" in shown.output and revision in shown.output
    assert "greets" in shown.output and "100%" in shown.output
    as_json = runner.invoke(cli, ["quality", name, "--benchmark", bench["id"], "--json"])
    assert as_json.exit_code == 0, as_json.output
    figures = json.loads(as_json.output)
    assert figures["benchmark_id"] == bench["id"] and figures["overall"]["count"] == 2
    nothing = runner.invoke(cli, ["quality", "echo", "--days", "1"])
    assert nothing.exit_code == 0
    bad = runner.invoke(cli, ["quality", "nobody"])
    assert bad.exit_code != 0 and "nobody" in bad.output


async def test_the_client_reads_an_agents_and_a_benchmarks_figures(
    app: FastAPI, rt: Runtime
) -> None:
    key = await auth.create_key(rt.db, f"cq-{uuid.uuid4().hex[:10]}", None, "admin")
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("http://runplane.test", api_key=key, transport=transport) as client:
        bench = await client.benchmarks.create("echo", "b", [{"type": "exact"}])
        run = await client.runs.create("echo", {"n": 1}, wait=20)
        await client.benchmarks.score_run(run.id, bench.id)
        q = await client.quality.agent("echo", bucket="hour")
        assert q.overall.count == 1 and q.overall.scorers["exact"].count == 1
        assert q.bucket == "hour" and len(q.over_time) == 1
        b = await client.quality.benchmark(bench.id, kind="suite")
        assert b.benchmark_id == bench.id and b.overall.count == 0
