#!/usr/bin/env python3
"""Suite throughput: how many benchmark cases per second a fresh server runs and scores.

Usage
  .venv/bin/python bench/benchmarks.py [--db sqlite|postgres] [--cases N] [--concurrency C]
  .venv/bin/python bench/benchmarks.py --write-examples   # recompute examples/benchmarks/*.json

It starts its own server (``runplane serve``, loopback, a free port) on a fresh database
(SQLite: a temp dir; Postgres: database ``runplane_bench_suites`` dropped and recreated on
postgresql://postgres@127.0.0.1:5432/), makes an API key, creates one benchmark per agent
with N cases taken round-robin from ``examples/benchmarks/<agent>.json``, runs one suite
of each at concurrency C, waits for it, and prints for ``echo`` and ``research``:
cases, wall seconds from POST to the suite's end, cases/s, the suite's latency p50/p95,
and how many cases passed. The last line on stdout is the figures as one JSON object.

``--write-examples`` runs each example case once against the example agents and writes
its result as the case's ``expected`` (the research corpus is bundled, so its answers
are deterministic).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from runplane.client import Client  # noqa: E402
from runplane.testing.server import LiveServer, create_key  # noqa: E402

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
EXAMPLES = REPO / "examples" / "benchmarks"
AGENTS = ("echo", "research")


def database(kind: str, folder: Path) -> str:
    """A fresh database of this kind: its URL."""
    if kind == "sqlite":
        return f"sqlite:///{folder}/bench.db"
    name = "runplane_bench_suites"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def example(agent: str) -> dict[str, Any]:
    """The example benchmark of an agent, as ``runplane bench create --file`` reads it."""
    data: dict[str, Any] = json.loads((EXAMPLES / f"{agent}.json").read_text())
    return data


def measure(client: Client, agent: str, cases: int, concurrency: int) -> dict[str, Any]:
    """One suite of ``cases`` cases of the agent's example benchmark: its figures."""
    data = example(agent)
    bench = client.benchmarks.create(
        agent, f"throughput-{uuid.uuid4().hex[:6]}", data["scorers"], gate=data.get("gate")
    )
    examples = data["cases"]
    for i in range(cases):
        case = dict(examples[i % len(examples)])
        case["name"] = f"{case.get('name', 'case')}-{i}"
        client.benchmarks.add_case(bench.id, **case)
    began = time.monotonic()
    suite = client.benchmarks.run_suite(bench.id, concurrency=concurrency)
    suite = client.benchmarks.wait_suite(suite.id, timeout=1800, poll=10)
    seconds = time.monotonic() - began
    summary = suite.summary or {}
    latency = summary.get("latency_ms") or {}
    counts = summary.get("counts") or {}
    return {
        "agent": agent,
        "cases": cases,
        "concurrency": concurrency,
        "status": suite.status,
        "seconds": round(seconds, 3),
        "cases_per_second": round(cases / seconds, 2),
        "latency_p50_ms": latency.get("p50"),
        "latency_p95_ms": latency.get("p95"),
        "passed": counts.get("passed"),
        "gate_passed": suite.passed,
    }


def write_examples(client: Client) -> None:
    """Run each example case once and keep its result as the case's expected output."""
    for agent in AGENTS:
        data = example(agent)
        for case in data["cases"]:
            run = client.runs.create(agent, input=case["input"], wait=60)
            assert run.status == "succeeded", (agent, case, run.status)
            assert run.result is not None
            case["expected"] = run.result.content
        (EXAMPLES / f"{agent}.json").write_text(
            json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        )
        print(f"wrote {EXAMPLES / f'{agent}.json'}", file=sys.stderr)


def main() -> None:
    """Parse the arguments, start a server, measure (or write the examples), stop it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--write-examples", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = database(args.db, Path(tmp))
        with LiveServer(url, cwd=Path(tmp), project=REPO / "runplane.toml") as server:
            key = create_key(url, tenant="bench")
            with Client(server.url, key, timeout=120) as client:
                if args.write_examples:
                    write_examples(client)
                    return
                figures = [measure(client, a, args.cases, args.concurrency) for a in AGENTS]
    for f in figures:
        print(
            f"{f['agent']:>9} [{args.db}]: {f['cases']} cases at concurrency "
            f"{f['concurrency']} in {f['seconds']:.2f} s = {f['cases_per_second']:.1f} cases/s "
            f"(latency p50 {f['latency_p50_ms']:.0f} ms, p95 {f['latency_p95_ms']:.0f} ms; "
            f"{f['passed']} passed)",
            file=sys.stderr,
        )
    print(json.dumps({"db": args.db, "suites": figures}))


if __name__ == "__main__":
    main()
