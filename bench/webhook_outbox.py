#!/usr/bin/env python3
"""Benchmark "lifecycle webhooks are never lost": N runs while the receiver is down.

Usage
  .venv/bin/python bench/webhook_outbox.py [--db sqlite|postgres] [--runs N] [--down S]
                                           [--backoff-max S] [--no-kill] [--after N]

Starts a server of its own (``runplane.testing.server.LiveServer``, a fresh database:
a SQLite file in a temp dir, or Postgres database ``runplane_bench_outbox`` recreated on
postgresql://postgres@127.0.0.1:5432/), with one webhook endpoint subscribed to every
event (``*``) and every run carrying a ``notify`` webhook: each run makes 4 deliveries
(run.queued, run.started, run.succeeded to the endpoint; run.finished to notify).

  outage    nothing listens on the receiver's port; N ``steps`` runs are created (16
            clients) and end; halfway through the outage the server is SIGKILLed and
            started again (unless --no-kill); after ``--down`` seconds the receiver starts.
  drain     until no delivery is pending; then: sent (distinct webhook-ids received),
            duplicates (the same webhook-id again), retried (deliveries tried more than
            once), failed (given up), lost (deliveries never received: must be 0), and
            whether each run's endpoint events arrived in order.
  steady    ``--after`` more runs with the receiver up: delivery latency (created ->
            first arrival at the receiver) p50/p99, the outage's deliveries apart.

Prints a summary and, last, one JSON object. Loopback only.
"""

from __future__ import annotations

import argparse
import http.server
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
from runplane.testing.server import LiveServer, create_key, free_port  # noqa: E402

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "runplane_bench_outbox"
CLIENTS = 16


class Receiver:
    """A receiver that keeps each POST's webhook-id, body and arrival time."""

    def __init__(self, port: int) -> None:
        self.got: list[tuple[float, str, dict[str, Any]]] = []
        got = self.got

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                got.append((time.time(), self.headers["webhook-id"], json.loads(raw)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 256  # the default 5 refuses bursts of concurrent deliveries

        self.server = Server(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def database(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp}/outbox.db"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_DB}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_DB


def all_deliveries(api: httpx.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = api.get("/v1/webhooks/deliveries", params=params).json()
        found.extend(page["items"])
        if not page.get("continuation_token"):
            return found
        params["continuation_token"] = page["continuation_token"]


def pending(api: httpx.Client) -> bool:
    r = api.get("/v1/webhooks/deliveries", params={"status": "pending", "limit": 1})
    return bool(r.json()["items"])


def start_runs(api: httpx.Client, n: int, hook: str) -> list[str]:
    body = {"agent_id": "steps", "input": {"steps": 2}, "notify": {"webhook": hook}}

    def one(_: int) -> str:
        r = api.post("/v1/runs", json=body)
        r.raise_for_status()
        return str(r.json()["id"])

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(one, range(n)))


def wait_ended(api: httpx.Client, run_ids: list[str]) -> None:
    for run_id in run_ids:
        for _ in range(60):
            if api.get(f"/v1/runs/{run_id}", params={"wait": 10}).json()["status"] in (
                "succeeded",
                "failed",
                "canceled",
            ):
                break


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def created(d: dict[str, Any]) -> float:
    return datetime.fromisoformat(d["created_at"].replace("Z", "+00:00")).timestamp()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--down", type=float, default=20.0, help="seconds the receiver is down")
    ap.add_argument("--backoff-max", type=float, default=2.0)
    ap.add_argument("--after", type=int, default=50, help="runs once the receiver is up")
    ap.add_argument("--no-kill", action="store_true")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="outbox-bench-"))
    url = database(args.db, tmp)
    port = free_port()
    hook = f"http://127.0.0.1:{port}/hook"
    env = {
        "RUNPLANE_OUTBOUND_ALLOW": f"127.0.0.1:{port}",
        "RUNPLANE_WEBHOOK_BACKOFF_MAX_SECONDS": str(args.backoff_max),
        "RUNPLANE_WEBHOOK_POLL_SECONDS": "0.5",
        "RUNPLANE_DB_CONNECTIONS": "8",
        "RUNPLANE_LOG_LEVEL": "error",
    }
    server = LiveServer(url, cwd=tmp, project=REPO / "runplane.toml", env=env).start()
    try:
        key = create_key(url, tenant=f"bench-{uuid.uuid4().hex[:6]}")
        api = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )
        api.post("/v1/webhook-endpoints", json={"url": hook, "events": ["*"]}).raise_for_status()

        began = time.monotonic()
        outage_runs = start_runs(api, args.runs, hook)
        wait_ended(api, outage_runs)
        killed = False
        if not args.no_kill:
            time.sleep(max(0.0, args.down / 2 - (time.monotonic() - began)))
            server.kill()
            server.start()
            killed = True
        time.sleep(max(0.0, args.down - (time.monotonic() - began)))
        down_for = time.monotonic() - began
        receiver = Receiver(port)
        up_at = time.time()
        while pending(api):
            time.sleep(0.25)
        drained_in = time.time() - up_at

        steady_runs = start_runs(api, args.after, hook)
        wait_ended(api, steady_runs)
        while pending(api):
            time.sleep(0.25)
        time.sleep(0.5)
        receiver.stop()

        sent = all_deliveries(api)
        first: dict[str, float] = {}
        order: list[str] = []
        for at, msg, _ in receiver.got:
            if msg not in first:
                first[msg] = at
                order.append(msg)
        outage_set = set(outage_runs)
        lost = [d["id"] for d in sent if d["id"] not in first]
        failed = [d for d in sent if d["status"] == "failed"]
        in_order = True
        position = {m: i for i, m in enumerate(order)}
        for run_id in outage_runs + steady_runs:
            mine = sorted(
                (d for d in sent if d["run_id"] == run_id and d["endpoint_id"]),
                key=lambda d: d["seq"],
            )
            arrived = [position.get(d["id"], -1) for d in mine]
            in_order &= arrived == sorted(arrived)
        steady = [
            first[d["id"]] - created(d)
            for d in sent
            if d["run_id"] not in outage_set and d["id"] in first
        ]
        outage = [
            first[d["id"]] - created(d)
            for d in sent
            if d["run_id"] in outage_set and d["id"] in first
        ]
        result = {
            "db": args.db,
            "runs": args.runs + args.after,
            "receiver_down_s": round(down_for, 1),
            "server_killed": killed,
            "deliveries": len(sent),
            "sent": len(first),
            "duplicates": len(receiver.got) - len(first),
            "retried": sum(1 for d in sent if d["attempt_count"] > 1),
            "attempts": sum(d["attempt_count"] for d in sent),
            "failed": len(failed),
            "lost": len(lost),
            "in_order_per_run": in_order,
            "drained_after_up_s": round(drained_in, 2),
            "latency_steady_ms": {
                "p50": round(percentile(steady, 50) * 1000, 1),
                "p99": round(percentile(steady, 99) * 1000, 1),
            },
            "latency_outage_s": {
                "p50": round(percentile(outage, 50), 2),
                "p99": round(percentile(outage, 99), 2),
                "mean": round(statistics.fmean(outage), 2) if outage else None,
            },
        }
        print(
            f"{args.db}: {result['deliveries']} deliveries of {result['runs']} runs; receiver "
            f"down {result['receiver_down_s']} s{' with a SIGKILL' if killed else ''}: "
            f"sent {result['sent']}, retried {result['retried']}, lost {result['lost']}, "
            f"failed {result['failed']}, duplicates {result['duplicates']}, in order "
            f"{in_order}; drained {result['drained_after_up_s']} s after the receiver came "
            f"up; steady latency p50 {result['latency_steady_ms']['p50']} ms, "
            f"p99 {result['latency_steady_ms']['p99']} ms"
        )
        print(json.dumps(result))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
