#!/usr/bin/env python3
"""The background benchmark against a server of N processes on Postgres: errors and runs/s.

Usage
  .venv/bin/python bench/background.py [--processes 2 4] [--n 500] [--concurrency 32]
      [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--out FILE]

For each process count the script creates a fresh database ``runplane_bg_<pid>`` (dropped
at the end) on the Postgres at --pg-url, starts ``runplane serve`` there with
RUNPLANE_PROCESSES=N and
RUNPLANE_CONCURRENCY=64 (the default connection budget: RUNPLANE_DB_CONNECTIONS=20 per
process), creates a key and runs

  bench/agent_protocol_bench.py --mode background --graph lg_echo --n 500 --concurrency 32

(N threads, then N background runs, then joins). It reports the harness's errors,
creates/s and completions/s, the server log's error lines, the peak of the server's
Postgres connections (pg_stat_activity) and the machine's load average (other work on
a shared machine makes these figures noisy). The last line on stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

HOST = "127.0.0.1"
HARNESS = REPO / "bench" / "agent_protocol_bench.py"
START_TIMEOUT = 180.0  # several processes start slowly on a loaded 2-core machine


def fresh_database(admin_url: str, name: str) -> str:
    """Drop and create ``name``; return its URL."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, name: str) -> None:
    """Drop the benchmark's database (the shared server keeps no leftovers)."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def server(url: str, port: int, processes: int, folder: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``runplane serve`` with ``processes`` processes; stopped (SIGTERM) at the end."""
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO / 'src'}:{REPO}",
        "RUNPLANE_DATABASE_URL": url,
        "RUNPLANE_HOST": HOST,
        "RUNPLANE_PORT": str(port),
        "RUNPLANE_PROJECT": str(REPO / "runplane.toml"),
        "RUNPLANE_PROCESSES": str(processes),
        "RUNPLANE_CONCURRENCY": "64",
        # info: uvicorn says so when it finds a process unresponsive and replaces it.
        "RUNPLANE_LOG_LEVEL": "info",
    }
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed below
    code = "from runplane.cli import main; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve"], env=env, cwd=folder, stdout=log, stderr=log
    )
    try:
        from runplane.testing.server import wait_healthy

        base, log_end = f"http://{HOST}:{port}", lambda: (folder / "server.log").read_text()[-2000:]
        wait_healthy(proc, base, START_TIMEOUT, log_end)
        # Every process answers /healthz once it is up; give the others time to come up.
        time.sleep(3 * processes)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


class ConnectionPeak:
    """The most connections to one database seen in pg_stat_activity, sampled every 0.2 s."""

    def __init__(self, admin_url: str, database: str) -> None:
        self.peak = 0
        self._admin_url, self._database = admin_url, database
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psycopg

        with psycopg.connect(self._admin_url, autocommit=True) as conn:
            while not self._stop.wait(0.2):
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (self._database,)
                ).fetchone()
                self.peak = max(self.peak, int(row[0]) if row else 0)

    def __enter__(self) -> ConnectionPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def error_lines(log_text: str) -> dict[str, int]:
    """The server log's errors, warnings and process deaths, counted by message (ids removed)."""
    counts: dict[str, int] = {}
    for line in log_text.splitlines():
        if any(m in line for m in (" ERROR ", " WARNING ", "Traceback", "Child process")):
            key = re.sub(r"\b(run|thr|ten|agt|rev)_[0-9a-z]+", r"\1_…", line[25:160])
            key = re.sub(r"\[\d+\]", "[…]", key)
            counts[key] = counts.get(key, 0) + 1
    return counts


def bench(processes: int, args: argparse.Namespace) -> dict[str, Any]:
    """One benchmark against a fresh server of ``processes`` processes."""
    from runplane.admin import create_api_key
    from runplane.settings import Settings
    from runplane.testing.server import free_port

    name = f"runplane_bg_{os.getpid()}"
    url = fresh_database(args.pg_url, name)
    folder = Path(tempfile.mkdtemp(prefix="runplane-bg-"))
    port = free_port()
    load_before = os.getloadavg()
    try:
        key = create_api_key(Settings(database_url=url), tenant="bench")
        with server(url, port, processes, folder), ConnectionPeak(args.pg_url, name) as peak:
            out = folder / "bench.json"
            cmd = [
                sys.executable,
                str(HARNESS),
                "--url",
                f"http://{HOST}:{port}",
                "--api-key",
                key,
                "--mode",
                "background",
                "--graph",
                "lg_echo",
                "--n",
                str(args.n),
                "--concurrency",
                str(args.concurrency),
                "--out",
                str(out),
            ]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
            if done.returncode != 0 and not out.exists():
                raise RuntimeError(f"harness failed: {done.stderr[-2000:]}")
            result = json.loads(out.read_text())
        log_text = (folder / "server.log").read_text(errors="replace")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        drop_database(args.pg_url, name)
    return {
        "processes": processes,
        "errors": result.get("errors"),
        "error_kinds": result.get("error_kinds"),
        "error_samples": result.get("error_samples"),
        "statuses": result.get("statuses"),
        "create_rps": result.get("create_rps"),
        "completions_per_s": result.get("completions_per_s"),
        "server_completions_per_s": result.get("server_completions_per_s"),
        "all_done_s": result.get("all_done_s"),
        "peak_db_connections": peak.peak,
        "server_log": error_lines(log_text),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--processes", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    results = []
    for processes in args.processes:
        print(f"{processes} processes ...", file=sys.stderr, flush=True)
        results.append(bench(processes, args))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    report = {
        "harness": "bench/background.py",
        "args": vars(args) | {"out": None},
        "results": results,
    }
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))
    return 0 if all(r["errors"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
