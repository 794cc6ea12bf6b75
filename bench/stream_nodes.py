#!/usr/bin/env python3
"""Agent Protocol streams on one node and across nodes, under the shared harness.

    .venv/bin/python bench/stream_nodes.py [--db sqlite|postgres] [--topology all,split]
        [--n 200] [--concurrency 1,8] [--stream-mode values,updates]

``all``: one server that accepts and executes (the in-process case: parts go from the
graph to the listener in memory). ``split``: an API-only server and a worker-only one on
the same database (every part crosses from the worker to the API node). For each, the
harness's ``stream`` mode (``POST /runs/stream`` on the echo graph) at each concurrency.
Prints one line per measurement and, last, one JSON object with all of them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "bench" / "agent_protocol_bench.py"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def fresh_database(db: str, tmp: Path) -> tuple[str, str | None]:
    """A new database's URL, and its name on Postgres (dropped at the end)."""
    if db == "sqlite":
        return f"sqlite:///{tmp}/bench.db", None
    import psycopg

    name = f"rp_streambench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, name


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def harness(url: str, key: str, pid: int, args: argparse.Namespace, c: int) -> dict[str, Any]:
    out = Path(tempfile.mkstemp(prefix="stream-nodes-", suffix=".json")[1])
    cmd = [sys.executable, str(HARNESS), "--mode", "stream", "--url", url, "--api-key", key]
    cmd += ["--graph", "lg_echo", "--n", str(args.n), "--concurrency", str(c)]
    cmd += ["--stream-mode", args.stream_mode, "--server-pid", str(pid), "--out", str(out)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=900)
    try:
        return dict(json.loads(out.read_text()))
    finally:
        out.unlink(missing_ok=True)


def measure(args: argparse.Namespace, topology: str) -> list[dict[str, Any]]:
    from runplane.testing.server import LiveServer, create_key

    tmp = Path(tempfile.mkdtemp(prefix=f"stream-nodes-{topology}-"))
    url, pg_name = fresh_database(args.db, tmp)
    env = {"RUNPLANE_CONCURRENCY": "64"}
    servers: list[LiveServer] = []
    try:
        if topology == "all":
            api = LiveServer(url, cwd=tmp / "all", project=REPO / "runplane.toml", env=env)
            servers.append(api.start(timeout=120))
        else:
            api = LiveServer(
                url, cwd=tmp / "api", project=REPO / "runplane.toml", env=env, worker=False
            )
            servers.append(api.start(timeout=120))
            worker = LiveServer(
                url, cwd=tmp / "worker", project=REPO / "runplane.toml", env=env, api=False
            )
            servers.append(worker.start())
        key = create_key(url, tenant="bench")
        assert api.process is not None
        results = []
        for c in args.concurrency:
            res = harness(api.url, key, api.process.pid, args, c)
            stream = res.get("stream") or res
            row = {
                "topology": topology,
                "db": args.db,
                "concurrency": c,
                "ok": stream.get("ok"),
                "first_event_p50_ms": stream["first_event_ms"]["p50"],
                "first_data_p50_ms": stream["first_data_event_ms"]["p50"],
                "end_p50_ms": stream["end_ms"]["p50"],
                "end_p95_ms": stream["end_ms"]["p95"],
                "events_per_run": stream.get("events_per_run"),
                "runs_per_s": stream.get("throughput_rps"),
                "api_cpu_ms_per_run": stream.get("server_cpu_ms_per_run"),
            }
            print(json.dumps(row), file=sys.stderr, flush=True)
            results.append(row)
        return results
    finally:
        for s in servers:
            s.stop()
        if pg_name is not None:
            drop_database(pg_name)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--topology", default="all,split", help="all, split, or both")
    ap.add_argument("--n", type=int, default=200, help="measured streams per concurrency")
    ap.add_argument("--concurrency", default="1,8", help="comma-separated levels")
    ap.add_argument("--stream-mode", default="values,updates")
    args = ap.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    rows: list[dict[str, Any]] = []
    for topology in args.topology.split(","):
        rows += measure(args, topology)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
