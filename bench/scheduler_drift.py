#!/usr/bin/env python3
"""Benchmark triggers: the scheduler's drift, and a webhook delivery's latency.

Usage
  .venv/bin/python bench/scheduler_drift.py [--db sqlite|postgres] [--ticks 100]
                                            [--hooks 100] [--out FILE]

Starts one server (``runplane.testing.LiveServer``: API and worker, loopback, a free
port, RUNPLANE_DB_CONNECTIONS=8) on a fresh database (SQLite: a file in a temp dir;
Postgres: database ``runplane_bench_triggers`` on postgresql://postgres@127.0.0.1:5432/,
dropped and recreated), makes an API key, then:

  drift     a schedule trigger firing every second (``* * * * * *``, seconds first) of
            the ``echo`` agent, until it has started ``--ticks`` runs. Drift of a tick =
            the run's ``created_at`` (recorded in the transaction that starts it) minus
            the tick's time (the whole second). Also checked: one run per second, none
            missed, none twice.
  webhook   ``--hooks`` signed deliveries to a webhook trigger, one after another:
            latency = request sent -> ``202`` received (the run is recorded before the
            202 is sent), p50 / p99.

The last line on stdout is one JSON object (also written to --out if given).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from runplane.schemas.webhooks import sign_headers  # noqa: E402
from runplane.testing.server import LiveServer, create_key  # noqa: E402

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "runplane_bench_triggers"


def fresh_database(kind: str, workdir: Path) -> str:
    """An empty database of ``kind`` for this bench."""
    if kind == "sqlite":
        return f"sqlite:///{workdir}/bench.db"
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_DB}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_DB


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def runs_of(client: httpx.Client, trigger_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = None
    while True:
        params: dict[str, Any] = {"trigger_id": trigger_id, "limit": 100}
        if token:
            params["continuation_token"] = token
        page = client.get("/v1/runs", params=params).json()
        found += page["items"]
        token = page["continuation_token"]
        if not token:
            return found


def measure_drift(client: httpx.Client, ticks: int) -> dict[str, Any]:
    made = client.post(
        "/v1/triggers",
        json={"kind": "schedule", "agent_id": "echo", "schedule": "* * * * * *", "input": {}},
    ).json()
    deadline = time.monotonic() + ticks * 1.5 + 30
    while time.monotonic() < deadline:
        found = runs_of(client, made["id"])
        if len(found) >= ticks:
            break
        time.sleep(1.0)
    client.post(f"/v1/triggers/{made['id']}/disable")
    found = sorted(runs_of(client, made["id"]), key=lambda r: r["created_at"])[:ticks]
    created = [at(r["created_at"]) for r in found]
    seconds = [c.replace(microsecond=0) for c in created]
    drift_ms = [(c - s).total_seconds() * 1000 for c, s in zip(created, seconds, strict=True)]
    gaps = {(b - a).total_seconds() for a, b in zip(seconds, seconds[1:], strict=False)}
    return {
        "ticks": len(found),
        "one_run_per_second": gaps == {1.0},
        "duplicate_seconds": len(seconds) - len(set(seconds)),
        "drift_ms_p50": round(statistics.median(drift_ms), 1),
        "drift_ms_p99": round(percentile(drift_ms, 0.99), 1),
        "drift_ms_max": round(max(drift_ms), 1),
    }


def measure_webhook(client: httpx.Client, hooks: int) -> dict[str, Any]:
    made = client.post(
        "/v1/triggers",
        json={"kind": "webhook", "agent_id": "echo", "mapping": {"message": "/text"}},
    ).json()
    latencies: list[float] = []
    with httpx.Client(base_url=str(client.base_url), timeout=30) as anonymous:
        for i in range(hooks + 5):
            body = json.dumps({"text": f"delivery {i}"}).encode()
            headers = sign_headers(
                [made["secret"]], f"msg_{uuid.uuid4().hex}", int(time.time()), body
            )
            began = time.perf_counter()
            r = anonymous.post(made["hook_url"], content=body, headers=headers)
            took = time.perf_counter() - began
            assert r.status_code == 202, r.text
            if i >= 5:  # the first few warm the connection and the caches
                latencies.append(took * 1000)
    return {
        "deliveries": len(latencies),
        "latency_ms_p50": round(statistics.median(latencies), 1),
        "latency_ms_p99": round(percentile(latencies, 0.99), 1),
        "runs": len(runs_of(client, made["id"])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--ticks", type=int, default=100)
    parser.add_argument("--hooks", type=int, default=100)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="runplane-triggers-bench-"))
    url = fresh_database(args.db, workdir)
    env = {"RUNPLANE_DB_CONNECTIONS": "8"}
    with LiveServer(url, cwd=workdir, project=REPO / "runplane.toml", env=env) as server:
        key = create_key(url, tenant="bench")
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            webhook = measure_webhook(client, args.hooks)
            drift = measure_drift(client, args.ticks)
    result = {"db": args.db, "drift": drift, "webhook": webhook}
    print(
        f"{args.db}: drift p50 {drift['drift_ms_p50']} ms, p99 {drift['drift_ms_p99']} ms "
        f"over {drift['ticks']} ticks; webhook p50 {webhook['latency_ms_p50']} ms, "
        f"p99 {webhook['latency_ms_p99']} ms",
        file=sys.stderr,
    )
    text = json.dumps(result)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
