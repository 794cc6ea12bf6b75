#!/usr/bin/env python3
"""Benchmark a fresh runplane server: run latency, throughput, SSE latency, memory, CPU.

Usage
  .venv/bin/python bench/runs.py [--db sqlite|postgres|both] [--quick] [--out FILE] [--port N]

For each database the script starts its own server (``serve(Settings())`` in a
subprocess, 127.0.0.1, a free port unless --port, RUNPLANE_CONCURRENCY=64) on a fresh
database (SQLite: a temp dir; Postgres: database ``runplane_bench`` dropped and
recreated on postgresql://postgres@127.0.0.1:5432/), creates an API key in-process,
warms up (20 runs of each agent), measures, and stops the server again.

Figures (latencies in ms, percentiles with linear interpolation)
  echo_c1 / echo_c32     POST /v1/runs {"agent_id": "echo", "wait": 30} round trip, one
                         run in flight / 32 in flight; the 201 answer is the ended run and
                         must be "succeeded" (anything else counts as an error).
                         rps = succeeded runs / wall time of the phase.
  steps_c1 / steps_c32   the same for the ``steps`` agent, {"steps": 5, "sleep": 0}.
  step_overhead_ms       c1: (p50 steps - p50 echo) / 4; c32: (1/rps steps - 1/rps echo) / 4
                         (the extra cost of one durable step, latency / throughput view).
  sse                    sequential: create an echo run without wait, then GET
                         /v1/runs/{id}/stream; create_to_first_event (from before the
                         POST), open_to_first_event (from the GET), create_to_end (the
                         server closes the stream after the terminal status event).
  server                 VmHWM / VmRSS of the server process (and the sum over its process
                         tree) read at the end; cpu_ms_per_run = server utime+stime (tree,
                         /proc/PID/stat) over the measured phases / runs in them.

A human summary goes to stderr; the last thing on stdout is one JSON object (also
written to --out, default bench/results/runs-<timestamp>.json). Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
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

HOST = "127.0.0.1"  # loopback only, never anything else
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "runplane_bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
ECHO_INPUT = {"message": "hi"}
STEPS_INPUT = {"steps": 5, "sleep": 0}
WARMUP = 20
MAX_ERROR_SAMPLES = 5
PHASE_MAX_S = 60.0  # hard time limit for any phase
TARGETS = {  # name -> (database, figure path, comparison, limit)
    "echo_c1_p50_ms": ("sqlite", ("echo_c1", "latency_ms", "p50"), "<=", 15.0),
    "echo_c32_rps_sqlite": ("sqlite", ("echo_c32", "rps"), ">=", 120.0),
    "echo_c32_rps_postgres": ("postgres", ("echo_c32", "rps"), ">=", 170.0),
    "step_overhead_c1_ms": ("sqlite", ("step_overhead_ms", "c1_p50"), "<=", 2.5),
    "sse_first_event_p50_ms": ("sqlite", ("sse", "create_to_first_event_ms", "p50"), "<=", 15.0),
    "server_peak_rss_mb": ("sqlite", ("server", "vmhwm_mb"), "<=", 250.0),
}


# ----------------------------------------------------------------------------- measures


def pct(values: list[float], q: float) -> float | None:
    """Percentile with linear interpolation (q in 0..100)."""
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def dist_ms(values_s: list[float]) -> dict[str, float | int | None]:
    v = [x * 1000.0 for x in values_s]
    r = lambda x: None if x is None else round(x, 3)  # noqa: E731
    return {
        "p50": r(pct(v, 50)),
        "p95": r(pct(v, 95)),
        "p99": r(pct(v, 99)),
        "mean": r(statistics.fmean(v)) if v else None,
        "count": len(v),
    }


def process_tree(pid: int) -> list[int]:
    """pid and its live descendants (from /proc/*/task/*/children)."""
    seen: list[int] = []
    todo = [pid]
    while todo and len(seen) < 1000:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return seen


def proc_cpu_s(pid: int) -> float:
    """utime+stime of the process tree, plus the root's reaped children, seconds."""
    total = 0.0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK
        if p == pid:
            total += (int(fields[13]) + int(fields[14])) / CLK_TCK
    return total


def proc_mem_mb(pid: int) -> dict[str, Any]:
    """VmHWM / VmRSS of the root process and summed over its tree, MiB."""
    per: dict[int, dict[str, float]] = {}
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                per[p] = {
                    k: int(v.split()[0]) / 1024.0
                    for k, v in (
                        line.split(":", 1) for line in f if line.startswith(("VmHWM:", "VmRSS:"))
                    )
                }
        except OSError:
            pass
    root = per.get(pid, {})
    return {
        "vmhwm_mb": round(root.get("VmHWM", 0.0), 1),
        "vmrss_mb": round(root.get("VmRSS", 0.0), 1),
        "tree_vmhwm_mb": round(sum(v.get("VmHWM", 0.0) for v in per.values()), 1),
        "tree_vmrss_mb": round(sum(v.get("VmRSS", 0.0) for v in per.values()), 1),
        "tree_pids": len(per),
    }


class Errors:
    """Counts by kind, plus a few samples."""

    def __init__(self) -> None:
        self.kinds: dict[str, int] = {}
        self.samples: list[str] = []

    def add(self, kind: str, detail: str) -> None:
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if len(self.samples) < MAX_ERROR_SAMPLES:
            self.samples.append(f"{kind}: {detail[:300]}")

    def report(self) -> dict[str, Any]:
        return {
            "errors": sum(self.kinds.values()),
            "error_kinds": self.kinds,
            "error_samples": self.samples,
        }


# ----------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def fresh_database(db: str, tmp: Path) -> str:
    if db == "sqlite":
        return f"sqlite:///{tmp}/bench.db"
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    return f"postgresql://postgres@127.0.0.1:5432/{PG_DB}"


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def running_server(
    url: str, port: int, tmp: Path, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start the server, wait for /healthz, and always terminate it afterwards.
    extra_env is merged into the server's environment last (e.g. RUNPLANE_PROCESSES).

    The database is migrated first, from this process, as `make run` does with `runplane db
    upgrade`: a server starting on a current database never loads Alembic, so its memory
    is what a deployed server's is."""
    from runplane.store.migrate import upgrade

    upgrade(url)
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO / 'src'}:{REPO}",
        "RUNPLANE_DATABASE_URL": url,
        "RUNPLANE_PORT": str(port),
        "RUNPLANE_HOST": HOST,
        "RUNPLANE_PROJECT": str(REPO / "runplane.toml"),
        "RUNPLANE_CONCURRENCY": "64",
        **(extra_env or {}),
    }
    code = (
        "from runplane.server import serve; from runplane.settings import Settings; "
        "serve(Settings())"
    )
    log_path = tmp / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", code], env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30.0
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{log_tail(log_path)}")
            try:
                if httpx.get(f"http://{HOST}:{port}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not healthy within 30 s:\n{log_tail(log_path)}")
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log_text = log_tail(log_path, 20)
        if log_text.strip():
            print(f"--- server log tail ({url.split(':')[0]}) ---\n{log_text}", file=sys.stderr)


# ----------------------------------------------------------------------------- phases


async def pool(
    n: int, concurrency: int, max_s: float, fn: Callable[[], Awaitable[None]]
) -> tuple[float, int]:
    """Call fn n times, at most `concurrency` in flight, issuing none after max_s.
    Returns (wall seconds, calls issued)."""
    issued = 0
    deadline = time.monotonic() + max_s

    async def worker() -> None:
        nonlocal issued
        while issued < n and time.monotonic() < deadline:
            issued += 1
            await fn()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, n)))))
    return time.perf_counter() - t0, issued


async def create_runs(
    client: httpx.AsyncClient,
    agent: str,
    inp: dict[str, Any],
    concurrency: int,
    n: int,
    max_s: float,
) -> dict[str, Any]:
    """POST /v1/runs with wait=30, n times; latency of each succeeded run."""
    lats: list[float] = []
    errors = Errors()
    body = {"agent_id": agent, "input": inp, "wait": 30}

    async def one() -> None:
        t0 = time.perf_counter()
        try:
            r = await client.post("/v1/runs", json=body)
        except httpx.HTTPError as e:
            errors.add(type(e).__name__, repr(e))
            return
        dt = time.perf_counter() - t0
        if r.status_code != 201:
            errors.add(f"http_{r.status_code}", r.text)
        elif (status := r.json().get("status")) != "succeeded":
            errors.add(f"status_{status}", r.text)
        else:
            lats.append(dt)

    wall, issued = await pool(n, concurrency, max_s, one)
    return {
        "agent": agent,
        "concurrency": concurrency,
        "n": n,
        "issued": issued,
        "ok": len(lats),
        "wall_s": round(wall, 3),
        "rps": round(len(lats) / wall, 2) if wall > 0 else None,
        "latency_ms": dist_ms(lats),
        **errors.report(),
    }


async def sse_runs(client: httpx.AsyncClient, n: int, max_s: float) -> dict[str, Any]:
    """Sequential: create an echo run (no wait), stream its events to the end."""
    first_c: list[float] = []
    first_o: list[float] = []
    ends: list[float] = []
    errors = Errors()

    async def one() -> None:
        t0 = time.perf_counter()
        try:
            r = await client.post("/v1/runs", json={"agent_id": "echo", "input": ECHO_INPUT})
            if r.status_code != 201 or r.json().get("status") not in ("queued", "running"):
                errors.add(f"create_http_{r.status_code}", r.text)
                return
            t_open = time.perf_counter()
            t_first: float | None = None
            in_block, cur_event, last_status = False, None, None
            async with client.stream(
                "GET", f"/v1/runs/{r.json()['id']}/stream", headers={"Accept": "text/event-stream"}
            ) as s:
                if s.status_code != 200:
                    errors.add(
                        f"stream_http_{s.status_code}", (await s.aread()).decode(errors="replace")
                    )
                    return
                async for line in s.aiter_lines():
                    if line.startswith(("event:", "data:", "id:")):
                        in_block = True
                        if line.startswith("event:"):
                            cur_event = line[6:].strip()
                        elif line.startswith("data:") and cur_event == "status":
                            last_status = json.loads(line[5:]).get("data", {}).get("status")
                    elif line == "" and in_block:
                        if t_first is None:
                            t_first = time.perf_counter()
                        in_block, cur_event = False, None
            t_end = time.perf_counter()
        except httpx.HTTPError as e:
            errors.add(type(e).__name__, repr(e))
            return
        if t_first is None:
            errors.add("no_event", "stream closed without an event")
        elif last_status != "succeeded":
            errors.add(f"final_status_{last_status}", "last status event of the stream")
        else:
            first_c.append(t_first - t0)
            first_o.append(t_first - t_open)
            ends.append(t_end - t0)

    wall, issued = await pool(n, 1, max_s, one)
    return {
        "n": n,
        "issued": issued,
        "ok": len(ends),
        "wall_s": round(wall, 3),
        "create_to_first_event_ms": dist_ms(first_c),
        "open_to_first_event_ms": dist_ms(first_o),
        "create_to_end_ms": dist_ms(ends),
        **errors.report(),
    }


async def measure(base_url: str, key: str, pid: int, quick: bool) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {key}"},
        limits=limits,
        timeout=httpx.Timeout(60.0, connect=10.0),
        trust_env=False,
    ) as client:
        for agent, inp in (("echo", ECHO_INPUT), ("steps", STEPS_INPUT)):
            warm = await create_runs(client, agent, inp, 1, WARMUP, PHASE_MAX_S)
            if warm["errors"]:
                print(
                    f"warm-up {agent}: {warm['errors']} errors {warm['error_samples']}",
                    file=sys.stderr,
                )
        out: dict[str, Any] = {}
        cpu_s, runs = 0.0, 0
        n1, n32, t32 = (100, 500, 20.0) if quick else (300, 2000, 20.0)
        phases: list[tuple[str, Callable[[], Awaitable[dict[str, Any]]]]] = [
            ("echo_c1", lambda: create_runs(client, "echo", ECHO_INPUT, 1, n1, PHASE_MAX_S)),
            ("steps_c1", lambda: create_runs(client, "steps", STEPS_INPUT, 1, n1, PHASE_MAX_S)),
            ("echo_c32", lambda: create_runs(client, "echo", ECHO_INPUT, 32, n32, t32)),
            ("steps_c32", lambda: create_runs(client, "steps", STEPS_INPUT, 32, n32, t32)),
            ("sse", lambda: sse_runs(client, 50 if quick else 200, PHASE_MAX_S)),
        ]
        for name, phase in phases:
            print(f"  {name} ...", file=sys.stderr, flush=True)
            c0 = proc_cpu_s(pid)
            res = await phase()
            dc = proc_cpu_s(pid) - c0
            res["server_cpu_ms_per_run"] = round(dc * 1000 / res["ok"], 3) if res["ok"] else None
            cpu_s, runs = cpu_s + dc, runs + res["ok"]
            out[name] = res
    p_steps, p_echo = out["steps_c1"]["latency_ms"]["p50"], out["echo_c1"]["latency_ms"]["p50"]
    r_steps, r_echo = out["steps_c32"]["rps"], out["echo_c32"]["rps"]
    out["step_overhead_ms"] = {
        "c1_p50": round((p_steps - p_echo) / 4, 3)
        if p_steps is not None and p_echo is not None
        else None,
        "c32_rps": round((1 / r_steps - 1 / r_echo) * 1000 / 4, 3) if r_steps and r_echo else None,
    }
    out["server"] = {
        **proc_mem_mb(pid),
        "cpu_s": round(cpu_s, 3),
        "runs": runs,
        "cpu_ms_per_run": round(cpu_s * 1000 / runs, 3) if runs else None,
    }
    return out


def bench_db(db: str, args: argparse.Namespace) -> dict[str, Any]:
    from runplane.admin import create_api_key
    from runplane.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix=f"runplane-bench-{db}-"))
    try:
        url = fresh_database(db, tmp)
        port = args.port or free_port()
        with running_server(url, port, tmp) as proc:
            key = create_api_key(Settings(database_url=url), tenant="bench")
            print(f"[{db}] server pid {proc.pid} on {HOST}:{port}", file=sys.stderr)
            return {
                "database_url": url,
                **asyncio.run(measure(f"http://{HOST}:{port}", key, proc.pid, args.quick)),
            }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- report


def get_path(d: Any, path: tuple[str, ...]) -> Any:
    for k in path:
        d = d.get(k) if isinstance(d, dict) else None
    return d


def evaluate(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (db, path, op, limit) in TARGETS.items():
        value = get_path(results.get(db), path)
        ok = None if value is None else (value <= limit if op == "<=" else value >= limit)
        out[name] = {"db": db, "value": value, "target": f"{op} {limit}", "pass": ok}
    return out


def summary(results: dict[str, Any], targets: dict[str, Any]) -> str:
    cols = ("db", "phase", "ok/issued", "rps", "p50", "p95", "p99", "err", "cpu/run")
    lines = ["{:8} {:10} {:>10} {:>8} {:>8} {:>8} {:>8} {:>4} {:>8}".format(*cols)]
    for db, r in results.items():
        if "error" in r:
            lines.append(f"{db:8} FAILED: {r['error'][:200]}")
            continue
        for ph in ("echo_c1", "steps_c1", "echo_c32", "steps_c32"):
            x, lat = r[ph], r[ph]["latency_ms"]
            nums = [x["rps"], lat["p50"], lat["p95"], lat["p99"]]
            lines.append(
                f"{db:8} {ph:10} {x['ok']:>5}/{x['issued']:<4} "
                + " ".join(f"{v or 0:8.2f}" for v in nums)
                + f" {x['errors']:>4} {x['server_cpu_ms_per_run'] or 0:8.2f}"
            )
        s, first = r["sse"], r["sse"]["create_to_first_event_ms"]
        lines.append(
            f"{db:8} sse        first p50/p95 {first['p50']}/{first['p95']} ms, "
            f"open->first p50 {s['open_to_first_event_ms']['p50']}, "
            f"end p50 {s['create_to_end_ms']['p50']}, errors {s['errors']}"
        )
        over, srv = r["step_overhead_ms"], r["server"]
        lines.append(
            f"{db:8} step overhead c1 {over['c1_p50']} ms, c32 {over['c32_rps']} ms; "
            f"server HWM {srv['vmhwm_mb']} MB (tree {srv['tree_vmhwm_mb']}), "
            f"cpu {srv['cpu_ms_per_run']} ms/run"
        )
    for name, t in targets.items():
        mark = {True: "PASS", False: "FAIL", None: "n/a"}[t["pass"]]
        lines.append(f"target {name:24} {mark:4} value={t['value']} ({t['target']}, {t['db']})")
    return "\n".join(lines)


def machine_facts(load_start: tuple[float, float, float]) -> dict[str, Any]:
    """The machine a report was measured on, with its load before and after."""
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        # other work on the machine skews every figure: check these first
        "loadavg_start": [round(x, 2) for x in load_start],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--quick", action="store_true", help="fewer samples")
    ap.add_argument("--out", type=Path, help="JSON output (default bench/results/runs-<ts>.json)")
    ap.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the server gets stopped too
    results: dict[str, Any] = {}
    started_at, load_start = time.strftime("%Y-%m-%dT%H:%M:%S%z"), os.getloadavg()
    for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        try:
            results[db] = bench_db(db, args)
        except Exception as e:  # noqa: BLE001 - report, and go on with the next database
            results[db] = {"error": f"{type(e).__name__}: {e}"}
            print(f"[{db}] FAILED: {e}", file=sys.stderr)
    targets = evaluate(results)
    report = {
        "harness": "bench/runs.py",
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "started_at": started_at,
        "machine": machine_facts(load_start),
        "results": results,
        "targets": targets,
    }
    print(summary(results, targets), file=sys.stderr)
    out = args.out or REPO / "bench" / "results" / f"runs-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
