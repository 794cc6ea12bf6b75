#!/usr/bin/env python3
"""Benchmark "waiting costs nothing": N runs paused for approval, a restart, approve all.

Usage
  .venv/bin/python bench/paused.py [--db sqlite|postgres|both] [--runs N] [--quick]
                                   [--no-kill] [--out FILE] [--port N]

For each database the script starts its own server (as bench/runs.py does:
``serve(Settings())`` in a subprocess, 127.0.0.1, a free port unless --port,
RUNPLANE_CONCURRENCY=64, working directory a fresh temp dir) on a fresh database
(SQLite: a file in that temp dir; Postgres: database ``runplane_bench_paused``, dropped
and recreated on postgresql://postgres@127.0.0.1:5432/, a name of its own so that it
never clobbers a concurrent bench/runs.py), creates an API key in-process, then:

  warm-up     WARMUP call_tools runs paused, approved and succeeded; a few echo runs.
  baseline    server VmRSS (max of a few samples after 2 s of quiet), Threads, VmHWM.
  pause       N x POST /v1/runs {"agent_id": "call_tools", ..., "approval": "ON_TOOL_CALL"}
              (16 clients); time until every 201, and until all N are listed ``paused``.
  paused      VmRSS again (settle 2 s, max of a few samples), delta vs baseline (target
              < 50 MB), Threads, /healthz ``active_runs`` (runs holding a task: must be 0),
              and one echo run with wait=30 while N are paused (a free worker slot).
  sigterm     SIGTERM the server, start a new one on the same database and directory
              (same executor id): how many of the N are still ``paused``, its VmRSS.
  sigkill     the same with SIGKILL (skipped with --no-kill).
  approve     list pending approvals, POST {"decision": "approve"} to each (16 clients);
              approvals/s, time until all N are ``succeeded``, the status of any that
              ended otherwise, VmRSS after.

A human summary goes to stderr; the last thing on stdout is one JSON object (also
written to --out, default bench/results/paused-<timestamp>.json). Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import runs as rb  # noqa: E402 - bench/runs.py: helpers only, its main() is guarded

REPO = rb.REPO
HOST = rb.HOST  # loopback only, never anything else
PG_ADMIN_URL = rb.PG_ADMIN_URL
PG_DB = "runplane_bench_paused"
AGENT = "call_tools"
PAUSE_BODY = {
    "agent_id": AGENT,
    "input": {"calls": [{"tool": "read_notes", "arguments": {"day": "Monday"}}]},
    "approval": "ON_TOOL_CALL",
}
CLIENTS = 16  # concurrent HTTP clients for create and approve
TARGET_MB = 50.0
SETTLE_S = 2.0
SAMPLES = 5
PHASE_MAX_S = 120.0  # hard time limit for any phase
POLL_S = 0.25


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- process


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (KiB) and Threads of one process, from /proc/PID/status."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "Threads"):
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


async def sample_memory(pid: int, settle: float = SETTLE_S) -> dict[str, Any]:
    """Let the server settle, then sample VmRSS a few times; the max, and the rest."""
    await asyncio.sleep(settle)
    rss: list[float] = []
    threads: list[int] = []
    for i in range(SAMPLES):
        if i:
            await asyncio.sleep(0.3)
        st = proc_status(pid)
        rss.append(st.get("VmRSS", 0) / 1024.0)
        threads.append(st.get("Threads", 0))
    st = proc_status(pid)
    tree = rb.proc_mem_mb(pid)
    return {
        "vmrss_mb": round(max(rss), 1),
        "vmrss_samples_mb": [round(x, 1) for x in rss],
        "vmhwm_mb": round(st.get("VmHWM", 0) / 1024.0, 1),
        "threads": max(threads),
        "tree_vmrss_mb": tree["tree_vmrss_mb"],
        "tree_pids": tree["tree_pids"],
    }


def fresh_database(db: str, tmp: Path) -> str:
    if db == "sqlite":
        return f"sqlite:///{tmp}/bench.db"
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    return f"postgresql://postgres@127.0.0.1:5432/{PG_DB}"


def drop_database(db: str) -> None:
    if db != "postgres":
        return
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
    except Exception as e:  # noqa: BLE001 - best effort clean-up
        log(f"could not drop {PG_DB}: {e}")


class Server:
    """One server at a time on a fixed database, port and working directory."""

    def __init__(self, url: str, port: int, tmp: Path) -> None:
        self.url, self.port, self.tmp = url, port, tmp
        self.proc: subprocess.Popen[bytes] | None = None
        self.gen = 0
        self.log_path = tmp / "server-0.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> float:
        """Start a server and wait for /healthz; seconds until healthy."""
        self.gen += 1
        self.log_path = self.tmp / f"server-{self.gen}.log"
        env = {
            **os.environ,
            "PYTHONPATH": f"{REPO / 'src'}:{REPO}",
            "RUNPLANE_DATABASE_URL": self.url,
            "RUNPLANE_PORT": str(self.port),
            "RUNPLANE_HOST": HOST,
            "RUNPLANE_PROJECT": str(REPO / "runplane.toml"),
            "RUNPLANE_CONCURRENCY": "64",
        }
        code = (
            "from runplane.server import serve; from runplane.settings import Settings; "
            "serve(Settings())"
        )
        t0 = time.perf_counter()
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code],
                env=env,
                cwd=self.tmp,
                stdout=logf,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30.0
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server #{self.gen} exited with {self.proc.returncode} on start:\n"
                    f"{rb.log_tail(self.log_path)}"
                )
            try:
                r = httpx.get(f"http://{HOST}:{self.port}/healthz", timeout=1.0, trust_env=False)
                if r.status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop(signal.SIGKILL)
                raise RuntimeError(
                    f"server #{self.gen} not healthy within 30 s:\n{rb.log_tail(self.log_path)}"
                )
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> dict[str, Any]:
        """Signal the server and wait for it to exit (SIGKILL after 20 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return {"signal": None}
        t0 = time.perf_counter()
        self.proc.send_signal(sig)
        forced = False
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            forced = True
            self.proc.kill()
            self.proc.wait()
        return {
            "signal": signal.Signals(sig).name,
            "exit_s": round(time.perf_counter() - t0, 3),
            "returncode": self.proc.returncode,
            "forced_kill": forced,
        }

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(
                f"server #{self.gen} died with {self.proc.returncode}:\n"
                f"{rb.log_tail(self.log_path)}"
            )


# ----------------------------------------------------------------------------- http


def client_for(port: int, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://{HOST}:{port}",
        headers={"x-api-key": key},
        limits=httpx.Limits(max_connections=CLIENTS + 4, max_keepalive_connections=CLIENTS + 4),
        timeout=httpx.Timeout(60.0, connect=10.0),
        trust_env=False,
    )


async def list_all(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paged list (limit 100, following continuation_token)."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(10_000):
        q = {**params, "limit": 100}
        if token:
            q["continuation_token"] = token
        r = await client.get(path, params=q)
        if r.status_code != 200:
            raise RuntimeError(f"GET {path} {q}: HTTP {r.status_code} {r.text[:300]}")
        body = r.json()
        items.extend(body["items"])
        token = body.get("continuation_token")
        if not token or not body["items"]:
            break
    return items


async def statuses(client: httpx.AsyncClient, ids: set[str]) -> Counter[str]:
    """The status of each of `ids`, counted (a run not listed counts as ``missing``)."""
    seen = {r["id"]: r["status"] for r in await list_all(client, "/v1/runs") if r["id"] in ids}
    c = Counter(seen.values())
    if len(seen) < len(ids):
        c["missing"] = len(ids) - len(seen)
    return c


async def wait_all(
    client: httpx.AsyncClient, server: Server, ids: set[str], status: str, max_s: float
) -> tuple[float | None, int]:
    """Poll until every one of `ids` is listed with `status`; (seconds or None, count)."""
    t0 = time.perf_counter()
    count = 0
    while time.perf_counter() - t0 < max_s:
        server.check_alive()
        count = sum(1 for r in await list_all(client, "/v1/runs", status=status) if r["id"] in ids)
        if count >= len(ids):
            return time.perf_counter() - t0, count
        await asyncio.sleep(POLL_S)
    return None, count


async def pool(n: int, fn: Any) -> float:
    """Call fn(i) for i in range(n), CLIENTS at a time; wall seconds."""
    it = iter(range(n))
    deadline = time.monotonic() + PHASE_MAX_S

    async def worker() -> None:
        for i in it:
            if time.monotonic() > deadline:
                return
            await fn(i)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(CLIENTS, max(1, n)))))
    return time.perf_counter() - t0


async def create_paused(
    client: httpx.AsyncClient, server: Server, n: int
) -> tuple[set[str], dict[str, Any]]:
    """Create n runs that pause for approval; wait until all are paused."""
    ids: set[str] = set()
    errors = rb.Errors()
    lats: list[float] = []

    async def one(_: int) -> None:
        t = time.perf_counter()
        try:
            r = await client.post("/v1/runs", json=PAUSE_BODY)
        except httpx.HTTPError as e:
            errors.add(type(e).__name__, repr(e))
            return
        if r.status_code != 201:
            errors.add(f"http_{r.status_code}", r.text)
            return
        lats.append(time.perf_counter() - t)
        ids.add(r.json()["id"])

    t0 = time.perf_counter()
    create_s = await pool(n, one)
    wait_s, paused = await wait_all(client, server, ids, "paused", PHASE_MAX_S)
    all_paused_s = time.perf_counter() - t0 if wait_s is not None else None
    out = {
        "n": n,
        "created": len(ids),
        "create_wall_s": round(create_s, 3),
        "create_rps": round(len(ids) / create_s, 1) if create_s > 0 else None,
        "create_latency_ms": rb.dist_ms(lats),
        "paused": paused,
        "all_paused_s": round(all_paused_s, 3) if all_paused_s is not None else None,
        **errors.report(),
    }
    if paused < len(ids):
        out["statuses"] = dict(await statuses(client, ids))
    return ids, out


async def approve_all(
    client: httpx.AsyncClient, server: Server, ids: set[str], max_s: float
) -> dict[str, Any]:
    """Approve every pending approval of `ids`; wait until all runs are succeeded."""
    t0 = time.perf_counter()
    pending = [
        a["id"]
        for a in await list_all(client, "/v1/approvals", status="pending")
        if a["run_id"] in ids
    ]
    list_s = time.perf_counter() - t0
    errors = rb.Errors()

    async def one(i: int) -> None:
        try:
            r = await client.post(f"/v1/approvals/{pending[i]}", json={"decision": "approve"})
        except httpx.HTTPError as e:
            errors.add(type(e).__name__, repr(e))
            return
        if r.status_code != 200:
            errors.add(f"http_{r.status_code}", r.text)

    t1 = time.perf_counter()
    approve_s = await pool(len(pending), one)
    wait_s, succeeded = await wait_all(client, server, ids, "succeeded", max_s)
    total_s = time.perf_counter() - t1
    final = await statuses(client, ids)
    return {
        "pending_found": len(pending),
        "list_pending_s": round(list_s, 3),
        "approve_wall_s": round(approve_s, 3),
        "approvals_per_s": round(len(pending) / approve_s, 1) if approve_s > 0 else None,
        "all_succeeded_s": round(total_s, 3) if wait_s is not None else None,
        "runs_per_s": round(len(ids) / total_s, 1) if wait_s is not None and total_s else None,
        "succeeded": succeeded,
        "final_statuses": dict(final),
        "not_succeeded": sum(v for k, v in final.items() if k != "succeeded"),
        **errors.report(),
    }


async def healthz(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/healthz")
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body


async def slot_check(client: httpx.AsyncClient) -> dict[str, Any]:
    """One echo run with wait=30 while the runs are paused: is a worker slot free?"""
    t0 = time.perf_counter()
    r = await client.post(
        "/v1/runs", json={"agent_id": "echo", "input": {"message": "hi"}, "wait": 30}
    )
    status = r.json().get("status") if r.status_code == 201 else f"http_{r.status_code}"
    return {"echo_status": status, "echo_ms": round((time.perf_counter() - t0) * 1000, 1)}


async def after_restart(
    server: Server, key: str, ids: set[str], start_s_holder: dict[str, Any]
) -> dict[str, Any]:
    """Count the runs still paused on a freshly started server, and its memory."""
    st0 = proc_status(server.pid)
    async with client_for(server.port, key) as client:
        health = await healthz(client)
        t0 = time.perf_counter()
        c = await statuses(client, ids)
        count_s = time.perf_counter() - t0
        mem = await sample_memory(server.pid)
        health_after = await healthz(client)
    return {
        **start_s_holder,
        "executor_id": health["executor_id"],
        "rss_at_healthy_mb": round(st0.get("VmRSS", 0) / 1024.0, 1),
        "still_paused": c.get("paused", 0),
        "statuses": dict(c),
        "count_s": round(count_s, 3),
        "active_runs": health_after["active_runs"],
        "memory": mem,
    }


# ----------------------------------------------------------------------------- per database


async def measure(server: Server, key: str, args: argparse.Namespace) -> dict[str, Any]:
    n = args.runs
    out: dict[str, Any] = {"runs": n}
    out["rss_at_start_mb"] = round(proc_status(server.pid).get("VmRSS", 0) / 1024.0, 1)
    async with client_for(server.port, key) as client:
        h = await healthz(client)
        out["executor_id"] = h["executor_id"]
        if AGENT not in h["agents"]:
            raise RuntimeError(f"agent {AGENT!r} not loaded; agents: {h['agents']}")
        # warm-up: the whole cycle, so its first-time costs are not counted as "paused"
        log(f"  warm-up ({args.warmup} paused+approved runs) ...")
        warm_ids, warm = await create_paused(client, server, args.warmup)
        warm_ap = await approve_all(client, server, warm_ids, PHASE_MAX_S)
        for _ in range(5):
            await slot_check(client)
        if warm["errors"] or warm_ap["not_succeeded"] or warm["paused"] < args.warmup:
            raise RuntimeError(f"warm-up failed: {warm} {warm_ap}")
        out["warmup"] = {"runs": args.warmup, "all_paused_s": warm["all_paused_s"]}
        out["baseline"] = await sample_memory(server.pid)
        out["baseline"]["active_runs"] = (await healthz(client))["active_runs"]

        log(f"  create {n} paused runs ...")
        ids, out["pause"] = await create_paused(client, server, n)
        out["paused"] = await sample_memory(server.pid)
        out["paused"]["active_runs"] = (await healthz(client))["active_runs"]
        out["paused"]["slot_check"] = await slot_check(client)
        out["paused"]["active_runs_after_slot_check"] = (await healthz(client))["active_runs"]
        out["rss_delta_mb"] = round(out["paused"]["vmrss_mb"] - out["baseline"]["vmrss_mb"], 1)
        out["threads_delta"] = out["paused"]["threads"] - out["baseline"]["threads"]
        out["rss_per_paused_run_kb"] = (
            round(out["rss_delta_mb"] * 1024 / len(ids), 2) if ids else None
        )
        out["server_1_vmhwm_mb"] = out["paused"]["vmhwm_mb"]

    restarts: list[dict[str, Any]] = []
    sigs = [signal.SIGTERM] if args.no_kill else [signal.SIGTERM, signal.SIGKILL]
    for sig in sigs:
        log(f"  restart ({signal.Signals(sig).name}) ...")
        stopped = server.stop(sig)
        start_s = server.start()
        log(f"  server #{server.gen} pid {server.pid}")
        info = {"stop": stopped, "start_to_healthy_s": round(start_s, 3)}
        restarts.append(await after_restart(server, key, ids, info))
    out["restarts"] = restarts

    log(f"  approve {len(ids)} runs ...")
    async with client_for(server.port, key) as client:
        out["approve"] = await approve_all(client, server, ids, PHASE_MAX_S)
        out["after_approve"] = await sample_memory(server.pid, settle=1.0)
        out["after_approve"]["active_runs"] = (await healthz(client))["active_runs"]

    survived = bool(ids) and all(r["still_paused"] == len(ids) for r in restarts)
    same_executor = all(r["executor_id"] == out["executor_id"] for r in restarts)
    ap = out["approve"]
    all_succeeded = bool(ids) and ap["succeeded"] == len(ids) == n and ap["not_succeeded"] == 0
    out["verdict"] = {
        "rss_delta_mb": out["rss_delta_mb"],
        "target_mb": TARGET_MB,
        "pass": out["rss_delta_mb"] < TARGET_MB
        and out["pause"]["paused"] == n
        and out["paused"]["active_runs"] == 0
        and survived
        and all_succeeded,
        "all_paused": out["pause"]["paused"] == n,
        "no_task_held": out["paused"]["active_runs"] == 0,
        "slot_free": out["paused"]["slot_check"]["echo_status"] == "succeeded",
        "all_survived_restart": survived,
        "same_executor_id": same_executor,
        "all_succeeded": all_succeeded,
    }
    return out


def bench_db(db: str, args: argparse.Namespace) -> dict[str, Any]:
    from runplane.admin import create_api_key
    from runplane.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix=f"runplane-bench-paused-{db}-"))
    server: Server | None = None
    try:
        url = fresh_database(db, tmp)
        server = Server(url, args.port or rb.free_port(), tmp)
        server.start()
        log(f"[{db}] server #1 pid {server.pid} on {HOST}:{server.port}")
        key = create_api_key(Settings(database_url=url), tenant="bench")
        t0 = time.perf_counter()
        res = asyncio.run(measure(server, key, args))
        res["wall_s"] = round(time.perf_counter() - t0, 1)
        return {"database_url": url, **res}
    except Exception as e:
        if server is not None and server.proc is not None:
            tail = rb.log_tail(server.log_path, 30)
            raise RuntimeError(f"{e}\n--- server #{server.gen} log tail ---\n{tail}") from e
        raise
    finally:
        if server is not None:
            server.stop(signal.SIGTERM)
        shutil.rmtree(tmp, ignore_errors=True)
        drop_database(db)


# ----------------------------------------------------------------------------- report


def summary(results: dict[str, Any]) -> str:
    lines: list[str] = []
    for db, r in results.items():
        if "error" in r:
            lines.append(f"{db:8} FAILED: {r['error'][:400]}")
            continue
        p, b, pz, ap = r["pause"], r["baseline"], r["paused"], r["approve"]
        lines.append(
            f"{db:8} {r['runs']} runs: created in {p['create_wall_s']} s "
            f"({p['create_rps']}/s), all paused after {p['all_paused_s']} s; "
            f"errors {p['errors']}"
        )
        lines.append(
            f"{db:8} RSS {b['vmrss_mb']} -> {pz['vmrss_mb']} MB (delta {r['rss_delta_mb']} MB, "
            f"{r['rss_per_paused_run_kb']} KB/run, target < {TARGET_MB:g}); HWM {pz['vmhwm_mb']} MB; "
            f"threads {b['threads']} -> {pz['threads']}; active_runs {pz['active_runs']}; "
            f"echo while paused: {pz['slot_check']['echo_status']} "
            f"in {pz['slot_check']['echo_ms']} ms"
        )
        for x in r["restarts"]:
            lines.append(
                f"{db:8} after {x['stop']['signal']}: exit {x['stop'].get('exit_s')} s, "
                f"healthy in {x['start_to_healthy_s']} s, still paused "
                f"{x['still_paused']}/{r['runs']}, RSS {x['memory']['vmrss_mb']} MB "
                f"(at healthy {x['rss_at_healthy_mb']}), threads {x['memory']['threads']}, "
                f"executor {x['executor_id']}"
            )
        lines.append(
            f"{db:8} approve: {ap['pending_found']} pending, {ap['approvals_per_s']}/s, "
            f"all succeeded after {ap['all_succeeded_s']} s ({ap['runs_per_s']} runs/s); "
            f"not succeeded {ap['not_succeeded']} {ap['final_statuses']}; "
            f"RSS after {r['after_approve']['vmrss_mb']} MB"
        )
        lines.append(f"{db:8} verdict {json.dumps(r['verdict'])}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--runs", type=int, default=1000, help="runs paused at once")
    ap.add_argument("--quick", action="store_true", help="100 runs (overrides --runs)")
    ap.add_argument("--no-kill", action="store_true", help="skip the SIGKILL restart")
    ap.add_argument("--out", type=Path, help="JSON output (default bench/results/paused-<ts>.json)")
    ap.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    args = ap.parse_args()
    if args.quick:
        args.runs = 100
    if args.runs < 1:
        ap.error("--runs must be >= 1")
    args.warmup = 20
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the server gets stopped too
    results: dict[str, Any] = {}
    started_at, load_start = time.strftime("%Y-%m-%dT%H:%M:%S%z"), os.getloadavg()
    for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        log(f"[{db}] ...")
        try:
            results[db] = bench_db(db, args)
        except Exception as e:  # noqa: BLE001 - report, and go on with the next database
            results[db] = {"error": f"{type(e).__name__}: {e}"}
            log(f"[{db}] FAILED: {e}")
    report = {
        "harness": "bench/paused.py",
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "started_at": started_at,
        "machine": rb.machine_facts(load_start),
        "results": results,
        "verdicts": {db: r.get("verdict", {"pass": False}) for db, r in results.items()},
    }
    log(summary(results))
    out = args.out or REPO / "bench" / "results" / f"paused-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))
    ok = all(v.get("pass") for v in report["verdicts"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
