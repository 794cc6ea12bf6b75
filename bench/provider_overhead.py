#!/usr/bin/env python3
"""Benchmark the provider overhead of a model call, and the cost of ``message.delta``.

Usage
  .venv/bin/python bench/provider_overhead.py [--db sqlite|postgres] [--calls N]
                                              [--pieces P] [--piece-ms MS]

Starts the stub OpenAI-compatible server (``runplane.testing.model_stubs``) and a server
of its own (``LiveServer``, a fresh database: a SQLite file in a temp dir, or Postgres
database ``runplane_bench_models`` recreated) whose model provider is the stub.

  overhead  one run of an agent making N ``ctx.complete`` calls, each a durable step
            answered by the stub with a short text in 4 streamed pieces. The agent times
            each call; the stub times its own answer (request read to last byte sent).
            Runplane's overhead per call = call time - stub time: the SDK and HTTP on
            loopback, the journal's step writes, the coalesced ``message.delta`` events.
            The same calls made with the provider alone (no run, no journal) split the
            SDK/HTTP share from the durable step's share. p50/p95/mean of each.
  deltas    one run whose single call streams P pieces, one every MS ms (a fast model):
            the ``message.delta`` events written, their rate per second sustained over the
            stream, and the call's time over the stub's own (what streaming into the
            run's log costs the run). The same stream without a listener (the provider
            alone) is the baseline.

Prints a summary and, last, one JSON object. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
from runplane.outbound import Policy  # noqa: E402
from runplane.providers.openai import OpenAIProvider  # noqa: E402
from runplane.providers.retrying import RetryPolicy  # noqa: E402
from runplane.testing.model_stubs import ModelStub, Reply  # noqa: E402
from runplane.testing.server import LiveServer, create_key  # noqa: E402

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "runplane_bench_models"
WARM_UP = 2
ANSWER = "The quick brown fox jumps over the lazy dog, twice over."

AGENTS = '''
import time
from runplane import agent


@agent(output="json")
async def model_calls(ctx, input):
    """Make N model calls, each a durable step; return each call's seconds."""
    seconds = []
    for n in range(input["calls"]):
        started = time.perf_counter()
        await ctx.complete([{"role": "user", "content": f"call {n}"}], name=f"call-{n}")
        seconds.append(time.perf_counter() - started)
    return {"seconds": seconds}
'''


def database(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp}/models.db"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    return f"postgresql://postgres@127.0.0.1:5432/{PG_DB}"


def quantiles(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return {
        "p50_ms": round(statistics.median(ms), 3),
        "p95_ms": round(p95, 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


def run_agent(api: httpx.Client, calls: int) -> dict[str, Any]:
    body = {"agent_id": "model_calls", "input": {"calls": calls}, "wait": 300}
    run = api.post("/v1/runs", json=body, timeout=330).json()
    assert run["status"] == "succeeded", run
    return dict(run)


async def _calls_alone(base_url: str, calls: int) -> list[float]:
    provider = OpenAIProvider(
        base_url=base_url, api_key="sk", policy=Policy(allow_private=True), retry=RetryPolicy(1)
    )

    async def ignore(text: str) -> None:
        return None

    seconds = []
    for n in range(-WARM_UP, calls):  # the first calls open the connection: not counted
        started = time.perf_counter()
        await provider.complete([{"role": "user", "content": f"call {n}"}], on_delta=ignore)
        if n >= 0:
            seconds.append(time.perf_counter() - started)
    await provider.aclose()
    return seconds


def _alone_in_child(base_url: str, calls: int) -> list[float]:
    return asyncio.run(_calls_alone(base_url, calls))


def provider_alone(stub: ModelStub, calls: int, reply: Reply) -> list[float]:
    """The calls made by the provider alone, from another process (as the server is)."""
    stub.default = lambda body: reply
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        seconds = list(pool.apply(_alone_in_child, (stub.openai_url, calls)))
    del stub.answer_seconds[:WARM_UP]
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--pieces", type=int, default=2000)
    ap.add_argument("--piece-ms", type=float, default=2.0)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rp-models-"))
    (tmp / "bench_model_agents.py").write_text(AGENTS)
    (tmp / "runplane.toml").write_text(
        textwrap.dedent("""
        [project]
        name = "bench-models"
        modules = ["bench_model_agents"]
        """)
    )
    with ModelStub() as stub:
        env = {
            "RUNPLANE_MODEL_PROVIDER": "openai",
            "RUNPLANE_MODEL_BASE_URL": stub.openai_url,
            "RUNPLANE_MODEL_API_KEY": "sk-bench",
            "RUNPLANE_MODEL_NAME": "stub-model",
            "RUNPLANE_ALLOW_PRIVATE_NETWORKS": "true",
        }
        url = database(args.db, tmp)
        server = LiveServer(url, cwd=tmp, project=tmp / "runplane.toml", env=env).start()
        try:
            key = create_key(url, tenant=f"bench-{uuid.uuid4().hex[:6]}")
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=60) as api:
                short = Reply(text=ANSWER, pieces=4)
                stub.script(*(short for _ in range(5)))
                run_agent(api, 5)  # warm up: the provider's client, the database
                stub.reset()

                stub.script(*(short for _ in range(args.calls)))
                run = run_agent(api, args.calls)
                calls = run["result"]["content"]["seconds"]
                served = list(stub.answer_seconds)
                overhead = [c - s for c, s in zip(calls, served, strict=True)]
                stub.reset()
                alone = provider_alone(stub, args.calls, short)
                served_alone = list(stub.answer_seconds)
                sdk = [c - s for c, s in zip(alone, served_alone, strict=True)]
                stub.reset()

                text = "".join(f"t{n} " for n in range(args.pieces))
                fast = Reply(text=text, pieces=args.pieces, piece_delay=args.piece_ms / 1000)
                stub.script(fast)
                streamed = run_agent(api, 1)
                stream_call = streamed["result"]["content"]["seconds"][0]
                stream_served = stub.answer_seconds[0]
                events = api.get(
                    f"/v1/runs/{streamed['id']}/events", params={"limit": 1000}
                ).json()["items"]
                deltas = [e for e in events if e["type"] == "message.delta"]
                joined = "".join(e["data"]["text"] for e in deltas)
                stub.reset()
                baseline = provider_alone(stub, 1, fast)[0]
        finally:
            server.stop()

    result = {
        "db": args.db,
        "calls": args.calls,
        "call": quantiles(calls),
        "stub_answer": quantiles(served),
        "overhead_per_call": quantiles(overhead),
        "provider_alone_overhead": quantiles(sdk),
        "durable_step_share_p50_ms": round(
            statistics.median(overhead) * 1000 - statistics.median(sdk) * 1000, 3
        ),
        "deltas": {
            "pieces": args.pieces,
            "piece_ms": args.piece_ms,
            "stub_stream_s": round(stream_served, 3),
            "call_s": round(stream_call, 3),
            "provider_alone_s": round(baseline, 3),
            "events": len(deltas),
            "events_per_s": round(len(deltas) / stream_call, 2),
            "text_complete": joined == text,
            "slowdown_vs_provider_alone_pct": round((stream_call / baseline - 1) * 100, 2),
        },
    }
    print(f"model call through a run ({args.db}, {args.calls} calls, stub on loopback):")
    print(f"  call            p50 {result['call']['p50_ms']} ms  p95 {result['call']['p95_ms']} ms")
    print(f"  stub's answer   p50 {result['stub_answer']['p50_ms']} ms")
    o, s = result["overhead_per_call"], result["provider_alone_overhead"]
    print(f"  overhead        p50 {o['p50_ms']} ms  p95 {o['p95_ms']} ms  (call - stub)")
    print(f"  provider alone  p50 {s['p50_ms']} ms  p95 {s['p95_ms']} ms  (SDK + HTTP)")
    print(f"  durable step    p50 {result['durable_step_share_p50_ms']} ms  (the difference)")
    d = result["deltas"]
    print(f"message.delta: {d['pieces']} pieces every {d['piece_ms']} ms")
    print(f"  {d['events']} events over {d['call_s']} s = {d['events_per_s']} events/s")
    print(
        f"  call {d['call_s']} s vs provider alone {d['provider_alone_s']} s "
        f"({d['slowdown_vs_provider_alone_pct']:+} %), text complete: {d['text_complete']}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
