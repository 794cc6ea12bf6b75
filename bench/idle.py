#!/usr/bin/env python3
"""What an idle runplane server costs: CPU per second and memory, with no run at all.

Usage
  .venv/bin/python bench/idle.py [--db sqlite|postgres|both] [--seconds 20] [--settle 8]

For each database: a fresh database and server (bench/runs.py's ``running_server``,
RUNPLANE_CONCURRENCY=64, the example project), left alone for ``--settle`` seconds, then
measured for ``--seconds``: utime+stime of the server process (ms of CPU per second of
wall time, i.e. thousandths of a core) and its VmRSS at the end. What an idle server
spends goes to its background loops: the run queue's polls (engine/dbos.py, QueuePoll),
the heartbeat, the reconciler, webhook and approval sweeps, DBOS's own threads.

Prints a line per database to stderr and one JSON object last on stdout. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runs import free_port, fresh_database, proc_cpu_s, proc_mem_mb, running_server  # noqa: E402


def measure(db: str, seconds: float, settle: float) -> dict[str, float]:
    """Idle CPU (ms/s) and memory of a fresh server on ``db``."""
    with tempfile.TemporaryDirectory(prefix="runplane-idle-") as tmp:
        url = fresh_database(db, Path(tmp))
        with running_server(url, free_port(), Path(tmp)) as proc:
            time.sleep(settle)
            before, began = proc_cpu_s(proc.pid), time.monotonic()
            time.sleep(seconds)
            cpu, wall = proc_cpu_s(proc.pid) - before, time.monotonic() - began
            memory = proc_mem_mb(proc.pid)
    return {
        "cpu_ms_per_s": round(cpu * 1000 / wall, 1),
        "vmrss_mb": memory["vmrss_mb"],
        "seconds": round(wall, 1),
    }


def main() -> int:
    """Measure each database asked for; print a summary and the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=8.0)
    args = parser.parse_args()
    dbs = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    results = {}
    for db in dbs:
        results[db] = figures = measure(db, args.seconds, args.settle)
        print(
            f"{db}: idle CPU {figures['cpu_ms_per_s']} ms/s over {figures['seconds']} s, "
            f"RSS {figures['vmrss_mb']} MB",
            file=sys.stderr,
        )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
