#!/usr/bin/env python3
"""What a run costs Postgres (statements, transactions, rows, WAL bytes, CPU), and what follows.

Usage
  .venv/bin/python bench/capacity.py [--n 300] [--concurrency 32] [--processes 1]
      [--pg-url URL] [--out FILE]

By default the script starts a Postgres instance of its own (initdb in a temporary
folder, a free port, ``pg_stat_statements`` loaded, otherwise Debian's defaults: fsync
on, shared_buffers 128 MB), so that WAL and CPU are this workload's alone even on a
shared machine; --pg-url measures an existing server instead (then WAL is the whole
cluster's, and statement counts need pg_stat_statements there). It starts
``runplane serve`` on it (RUNPLANE_CONCURRENCY=64, --processes), creates a key, warms
up, and measures, each over --n runs at --concurrency (``wait`` held until the run ends):

  idle           10 s of nothing: what the processes cost per second when no run goes
                 (heartbeats, queue polls); subtracted from the workloads below ("net").
  echo           ``echo`` agent: one durable step.
  steps1/steps9  ``steps`` agent with 1 and 9 steps: per step = (steps9 - steps1) / 8.
  graph          ``lg_echo`` LangGraph graph, POST /runs/wait (stateless).

For each: runs/s; per run, statements (pg_stat_statements calls), transactions
(pg_stat_database xact_commit + xact_rollback), rows inserted/updated/deleted, WAL
bytes and full-page images (pg_stat_wal), Postgres CPU ms (utime+stime of the
postmaster's process tree, the backends it reaped included, from /proc) and the
runplane server's CPU ms; the statements that ran most per run. Then the extrapolation:
the runs/s Postgres' CPU alone could carry on this machine's cores, and the WAL it
would write per second. The last line on stdout is one JSON object (also --out).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from runs import proc_cpu_s  # noqa: E402  (bench/runs.py: /proc CPU of a process tree)

HOST = "127.0.0.1"
DATABASE = "runplane_capacity"
IDLE_SECONDS = 10.0
STATS_SETTLE = 1.2  # backends report their counters to pg_stat_database at most every 1 s
WARMUP = 40


# -- a private Postgres ---------------------------------------------------------------


def pg_bindir() -> Path:
    """Where initdb and pg_ctl are (pg_config, else Debian's layout)."""
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        return Path(out.stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not candidates:
            raise SystemExit("no PostgreSQL server binaries (initdb) found") from None
        return candidates[-1].parent


def as_postgres(cmd: list[str]) -> list[str]:
    """Postgres refuses to run as root: run it as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def private_postgres() -> Iterator[tuple[str, int]]:
    """A fresh Postgres instance on a free port; yields (admin URL, postmaster pid)."""
    from runplane.testing.server import free_port

    bindir = pg_bindir()
    folder = Path(tempfile.mkdtemp(prefix="runplane-capacity-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
    port = free_port()
    subprocess.run(
        as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]),
        check=True,
        capture_output=True,
    )
    options = (
        f"-c port={port} -c listen_addresses={HOST} -c unix_socket_directories={folder} "
        "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all "
        "-c max_connections=200"
    )
    log = folder / "postgres.log"
    ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w"]
    subprocess.run(as_postgres([*ctl, "start"]), check=True, capture_output=True)
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        yield f"postgresql://postgres@{HOST}:{port}/postgres", pid
    finally:
        subprocess.run(as_postgres([*ctl, "-m", "fast", "stop"]), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def postmaster_pid_of(admin_url: str) -> int | None:
    """The postmaster's pid of a local server (for its CPU), if it can be read."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT setting FROM pg_settings WHERE name = 'data_directory'"
        ).fetchone()
    try:
        return int((Path(str(row[0])) / "postmaster.pid").read_text().split()[0]) if row else None
    except (OSError, ValueError):
        return None


# -- counters -----------------------------------------------------------------------------


class Counters:
    """Postgres' and the server's counters, read before and after a phase."""

    def __init__(self, admin_url: str, postmaster: int | None, server: int) -> None:
        import psycopg

        self.conn = psycopg.connect(admin_url, autocommit=True)
        self.postmaster, self.server = postmaster, server
        self.statements = bool(
            self.conn.execute(
                "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"
            ).fetchone()
        )

    def reset_statements(self) -> None:
        if self.statements:
            self.conn.execute("SELECT pg_stat_statements_reset()")

    def read(self) -> dict[str, float]:
        row = self.conn.execute(
            "SELECT d.xact_commit + d.xact_rollback, d.tup_inserted, d.tup_updated, "
            "d.tup_deleted, d.tup_fetched, d.blks_hit + d.blks_read, "
            "w.wal_records, w.wal_fpi, w.wal_bytes "
            "FROM pg_stat_database d, pg_stat_wal w WHERE d.datname = %s",
            (DATABASE,),
        ).fetchone()
        assert row is not None
        names = (
            "transactions rows_inserted rows_updated rows_deleted rows_fetched blocks "
            "wal_records wal_fpi wal_bytes"
        ).split()
        values = {name: float(v) for name, v in zip(names, row, strict=True)}
        if self.statements:
            calls = self.conn.execute(
                "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s "
                "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s",
                (DATABASE,),
            ).fetchone()
            values["statements"] = float(calls[0]) if calls else 0.0
        values["postgres_cpu_s"] = proc_cpu_s(self.postmaster) if self.postmaster else 0.0
        values["server_cpu_s"] = proc_cpu_s(self.server)
        values["at"] = time.monotonic()
        return values

    def top_statements(
        self, runs: int, limit: int = 12, per: str = "per_run"
    ) -> list[dict[str, Any]]:
        if not self.statements or not runs:
            return []
        rows = self.conn.execute(
            "SELECT calls, rows, wal_bytes, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) "
            "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = %s ORDER BY calls DESC LIMIT %s",
            (DATABASE, limit),
        ).fetchall()
        return [
            {
                per: round(calls / runs, 2),
                f"wal_bytes_{per}": round(float(wal) / runs),
                "query": query,
            }
            for calls, _rows, wal, query in rows
        ]


def per_second(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Each counter's growth per second between two reads."""
    span = after["at"] - before["at"]
    return {k: (after[k] - before[k]) / span for k in after if k != "at"}


def per_run(
    before: dict[str, float], after: dict[str, float], runs: int, idle: dict[str, float]
) -> dict[str, dict[str, float]]:
    """Each counter's growth per run: gross, and net of what idle time costs."""
    span = after["at"] - before["at"]
    gross = {k: (after[k] - before[k]) / runs for k in after if k != "at"}
    net = {k: max(0.0, gross[k] - idle.get(k, 0.0) * span / runs) for k in gross}
    return {"gross": _rounded(gross), "net": _rounded(net)}


def _rounded(values: dict[str, float]) -> dict[str, float]:
    out = {}
    for k, v in values.items():
        if k.endswith("_cpu_s"):
            out[k.replace("_cpu_s", "_cpu_ms")] = round(v * 1000, 3)
        else:
            out[k] = round(v, 2)
    return out


# -- the server and the workloads ------------------------------------------------------


@contextmanager
def runplane_server(url: str, processes: int, folder: Path) -> Iterator[tuple[str, int]]:
    """``runplane serve`` on ``url``; yields (base URL, pid)."""
    from runplane.testing.server import free_port, wait_healthy

    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO / 'src'}:{REPO}",
        "RUNPLANE_DATABASE_URL": url,
        "RUNPLANE_HOST": HOST,
        "RUNPLANE_PORT": str(port),
        "RUNPLANE_PROJECT": str(REPO / "runplane.toml"),
        "RUNPLANE_PROCESSES": str(processes),
        "RUNPLANE_CONCURRENCY": "64",
    }
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-c", "from runplane.cli import main; main()", "serve"],
        env=env,
        cwd=folder,
        stdout=log,
        stderr=log,
    )
    base = f"http://{HOST}:{port}"
    try:
        wait_healthy(proc, base, 180, lambda: (folder / "server.log").read_text()[-2000:])
        time.sleep(2 * processes)
        yield base, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


Workload = Callable[[httpx.AsyncClient], Awaitable[bool]]


def agent_run(agent: str, input: dict[str, Any]) -> Workload:
    """One run of ``agent``, its answer held until it ends; tell whether it succeeded."""

    async def one(client: httpx.AsyncClient) -> bool:
        r = await client.post("/v1/runs", json={"agent_id": agent, "input": input, "wait": 60})
        return r.status_code == 201 and r.json().get("status") == "succeeded"

    return one


def graph_run(graph: str) -> Workload:
    """One stateless run of a LangGraph graph (POST /runs/wait)."""

    async def one(client: httpx.AsyncClient) -> bool:
        body = {"assistant_id": graph, "input": {"message": "hi"}}
        r = await client.post("/runs/wait", json=body)
        return r.status_code == 200

    return one


async def drive(
    base: str, key: str, workload: Workload, n: int, concurrency: int
) -> tuple[int, int, float]:
    """Run ``workload`` n times, ``concurrency`` at once; (succeeded, failed, seconds)."""
    ok = failed = issued = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=120, trust_env=False
    ) as client:

        async def worker() -> None:
            nonlocal ok, failed, issued
            while issued < n:
                issued += 1
                try:
                    good = await workload(client)
                except httpx.HTTPError:
                    good = False
                ok, failed = ok + good, failed + (not good)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(min(n, concurrency))))
    return ok, failed, time.perf_counter() - started


WORKLOADS: dict[str, Workload] = {
    "echo": agent_run("echo", {"message": "hi"}),
    "steps1": agent_run("steps", {"steps": 1}),
    "steps9": agent_run("steps", {"steps": 9}),
    "graph": graph_run("lg_echo"),
}


def measure(args: argparse.Namespace, admin_url: str, postmaster: int | None) -> dict[str, Any]:
    """Every phase against a fresh database on ``admin_url``; the figures."""
    import psycopg

    from runplane.admin import create_api_key
    from runplane.settings import Settings

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
        if args.pg_url is None:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    url = admin_url.rsplit("/", 1)[0] + "/" + DATABASE
    folder = Path(tempfile.mkdtemp(prefix="runplane-capacity-"))
    key = create_api_key(Settings(database_url=url), tenant="capacity")
    out: dict[str, Any] = {"load_before": os.getloadavg()}
    try:
        with runplane_server(url, args.processes, folder) as (base, pid):
            counters = Counters(admin_url, postmaster, pid)
            for workload in WORKLOADS.values():
                asyncio.run(drive(base, key, workload, WARMUP, min(8, args.concurrency)))
            time.sleep(STATS_SETTLE)
            counters.reset_statements()
            before = counters.read()
            time.sleep(IDLE_SECONDS)
            idle = per_second(before, counters.read())
            out["idle_per_second"] = _rounded(idle)
            out["idle_top_statements_per_second"] = counters.top_statements(
                round(IDLE_SECONDS), per="per_second"
            )
            for name, workload in WORKLOADS.items():
                print(f"  {name} ...", file=sys.stderr, flush=True)
                counters.reset_statements()
                before = counters.read()
                ok, failed, seconds = asyncio.run(
                    drive(base, key, workload, args.n, args.concurrency)
                )
                time.sleep(STATS_SETTLE)
                after = counters.read()
                out[name] = {
                    "runs": ok,
                    "failed": failed,
                    "runs_per_s": round(ok / seconds, 1),
                    **per_run(before, after, max(ok, 1), idle),
                    "top_statements": counters.top_statements(ok),
                }
            counters.conn.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    out["load_after"] = os.getloadavg()
    out["model"] = model(out)
    return out


def model(figures: dict[str, Any]) -> dict[str, Any]:
    """Per step from steps9 - steps1; the runs/s Postgres' CPU alone could carry here."""
    cores = os.cpu_count() or 1
    s1, s9 = figures["steps1"]["net"], figures["steps9"]["net"]
    per_step = {k: round((s9[k] - s1[k]) / 8, 3) for k in s1}
    out: dict[str, Any] = {"cores": cores, "per_step": per_step}
    for name in ("echo", "steps1", "steps9", "graph"):
        net = figures[name]["net"]
        cpu_ms = net.get("postgres_cpu_ms") or 0.0
        if cpu_ms > 0:
            ceiling = cores * 1000 / cpu_ms
            out[f"{name}_postgres_cpu_bound_runs_per_s"] = round(ceiling)
            out[f"{name}_wal_mb_per_s_at_that_rate"] = round(ceiling * net["wal_bytes"] / 1e6, 1)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--pg-url", default=None, help="an existing server (default: a private one)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.pg_url is None:
        with private_postgres() as (admin_url, postmaster):
            figures = measure(args, admin_url, postmaster)
    else:
        figures = measure(args, args.pg_url, postmaster_pid_of(args.pg_url))
    report = {"harness": "bench/capacity.py", "args": vars(args) | {"out": None}, **figures}
    text = json.dumps(report, default=str)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
