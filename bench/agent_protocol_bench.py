#!/usr/bin/env python3
# Vendored from /work/shared/bench/agent_protocol_bench.py (shared harness v1.1), unchanged,
# so that this repo is self-contained.
# ruff: noqa
"""Load harness for servers that speak the LangGraph Agent Server API ("Agent Protocol").

Depends only on httpx (hot paths) and langgraph-sdk (the `smoke` mode, which drives
the official client). Works against `langgraph dev`, Aegra, runplane, or anything
else serving /runs/wait, /runs/stream, /threads, /threads/{id}/runs, .../join.

Modes
  wait        POST /runs/wait (stateless): throughput (runs/s), latency p50/p95/p99
  stream      POST /runs/stream (stateless): time to first SSE event, to first data
              event, to end of stream; "exec" = end - first event
  background  N threads, then N x POST /threads/{id}/runs, then join (--bg-wait join,
              GET .../join) or poll (GET .../runs/{id}) until all are done: creates/s,
              completions/s as the client sees them, and the server-side view from the
              runs' created_at/updated_at (create->done latency, completions/s)
  overhead    per-step overhead: (latency(steps graph) - latency(echo graph)) / 4,
              from /runs/wait p50 at concurrency 1, from stream exec p50, and from
              /runs/wait throughput at concurrency 32
  suite       all of the above with the standard settings (a)-(e); default
  smoke       functional check with the official langgraph_sdk client
  aggregate   --aggregate A.json B.json ...: element-wise medians of earlier outputs

With --server-pid, server CPU time per run (from /proc/PID/stat, the process and
its descendants) and peak RSS (VmHWM from /proc/PID/status) are reported; with
--db-pid (e.g. the Postgres postmaster) the database's CPU per run and RSS too.

The last thing printed to stdout is one JSON object (also written to --out).
Only loopback URLs are accepted unless --allow-remote is given.

Examples
  python agent_protocol_bench.py --url http://127.0.0.1:2024 --server-pid 1234
  python agent_protocol_bench.py --url http://127.0.0.1:2024 --mode wait --graph echo \
      --concurrency 32 --n 1000
  python agent_protocol_bench.py --mode aggregate --aggregate r1.json r2.json r3.json
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
import urllib.parse
from typing import Any, Awaitable, Callable

import httpx

HARNESS_VERSION = "1.1"
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
MAX_ERROR_SAMPLES = 5


# --------------------------------------------------------------------------- utils


def pct(values: list[float], q: float) -> float | None:
    """Percentile with linear interpolation (q in 0..100)."""
    if not values:
        return None
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    k = (len(s) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def dist_ms(values_s: list[float]) -> dict[str, float | None]:
    v = [x * 1000.0 for x in values_s]
    r = lambda x: None if x is None else round(x, 3)  # noqa: E731
    return {
        "p50": r(pct(v, 50)),
        "p95": r(pct(v, 95)),
        "p99": r(pct(v, 99)),
        "mean": r(statistics.fmean(v)) if v else None,
        "min": r(min(v)) if v else None,
        "max": r(max(v)) if v else None,
        "count": len(v),
    }


def client_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    out.extend(int(x) for x in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return out


def process_tree(pid: int) -> list[int]:
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo.extend(_children(p))
    return seen


def proc_cpu_s(pid: int | None) -> float | None:
    """utime+stime of the live process tree rooted at pid, plus the root's
    cutime+cstime (children that exited and were reaped), seconds."""
    if not pid:
        return None
    total, ok = 0.0, False
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                data = f.read()
            fields = data[data.rindex(")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
            if p == pid:
                total += (int(fields[13]) + int(fields[14])) / CLK_TCK
            ok = True
        except (OSError, ValueError, IndexError):
            pass
    return total if ok else None


def proc_mem_mb(pid: int | None) -> dict[str, Any] | None:
    """VmHWM / VmRSS of pid (and the tree's totals), MiB."""
    if not pid:
        return None
    per: dict[str, dict[str, float]] = {}
    for p in process_tree(pid):
        try:
            vals = {}
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith(("VmHWM:", "VmRSS:")):
                        k, v = line.split(":", 1)
                        vals[k] = int(v.split()[0]) / 1024.0
            per[str(p)] = vals
        except OSError:
            pass
    if not per:
        return {"error": f"cannot read /proc/{pid}/status"}
    root = per.get(str(pid), {})
    return {
        "pid": pid,
        "vmhwm_mb": round(root.get("VmHWM", 0.0), 1),
        "vmrss_mb": round(root.get("VmRSS", 0.0), 1),
        "tree_vmhwm_sum_mb": round(sum(v.get("VmHWM", 0.0) for v in per.values()), 1),
        "tree_vmrss_sum_mb": round(sum(v.get("VmRSS", 0.0) for v in per.values()), 1),
        "tree_pids": [int(p) for p in per],
    }


class Errors:
    def __init__(self) -> None:
        self.count = 0
        self.timeouts = 0
        self.kinds: dict[str, int] = {}
        self.samples: list[str] = []

    def add(self, kind: str, detail: str, timeout: bool = False) -> None:
        self.count += 1
        if timeout:
            self.timeouts += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if len(self.samples) < MAX_ERROR_SAMPLES:
            self.samples.append(f"{kind}: {detail[:300]}")

    def report(self) -> dict[str, Any]:
        return {
            "errors": self.count,
            "timeouts": self.timeouts,
            "error_kinds": self.kinds,
            "error_samples": self.samples,
        }


async def pool(
    n: int,
    concurrency: int,
    fn: Callable[[int], Awaitable[None]],
    deadline: float,
) -> tuple[float, int, bool]:
    """Run fn(0..n-1) with at most `concurrency` in flight; stop issuing at deadline.
    Returns (wall seconds, calls issued, truncated)."""
    nxt = 0
    truncated = False

    async def worker() -> None:
        nonlocal nxt, truncated
        while True:
            if nxt >= n:
                return
            if time.monotonic() > deadline:
                truncated = True
                return
            i = nxt
            nxt += 1
            await fn(i)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, n)))))
    return time.perf_counter() - t0, nxt, truncated


def make_client(args: argparse.Namespace, concurrency: int) -> httpx.AsyncClient:
    limits = httpx.Limits(
        max_connections=concurrency + 8,
        max_keepalive_connections=concurrency + 8,
    )
    headers = {}
    if args.api_key:
        headers["x-api-key"] = args.api_key
    return httpx.AsyncClient(
        base_url=args.url.rstrip("/"),
        timeout=httpx.Timeout(args.timeout, connect=min(10.0, args.timeout)),
        limits=limits,
        headers=headers,
        trust_env=False,
    )


def run_body(args: argparse.Namespace, graph: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"assistant_id": graph, "input": json.loads(args.input)}
    body.update(extra)
    return body


DB_PID: int | None = None  # set from --db-pid (e.g. the postmaster of a Postgres backend)


class Meter:
    """Client + server (+ database) CPU accounting around one measurement."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid

    def __enter__(self) -> "Meter":
        self.c0 = client_cpu_s()
        self.s0 = proc_cpu_s(self.pid)
        self.d0 = proc_cpu_s(DB_PID)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.client_cpu = client_cpu_s() - self.c0
        s1 = proc_cpu_s(self.pid)
        self.server_cpu = None if (s1 is None or self.s0 is None) else s1 - self.s0
        d1 = proc_cpu_s(DB_PID)
        self.db_cpu = None if (d1 is None or self.d0 is None) else d1 - self.d0

    def report(self, runs_ok: int) -> dict[str, Any]:
        out: dict[str, Any] = {"client_cpu_s": round(self.client_cpu, 3)}
        if self.server_cpu is not None:
            out["server_cpu_s"] = round(self.server_cpu, 3)
            if runs_ok:
                out["server_cpu_ms_per_run"] = round(self.server_cpu * 1000 / runs_ok, 3)
        if self.db_cpu is not None:
            out["db_cpu_s"] = round(self.db_cpu, 3)
            if runs_ok:
                out["db_cpu_ms_per_run"] = round(self.db_cpu * 1000 / runs_ok, 3)
        return out


def warmup_count(args: argparse.Namespace, concurrency: int, n: int) -> int:
    if args.warmup is not None:
        return args.warmup
    return min(n, max(5, concurrency))


# --------------------------------------------------------------------------- wait


async def bench_wait(
    args: argparse.Namespace, graph: str, concurrency: int, n: int
) -> dict[str, Any]:
    errors = Errors()
    lats: list[float] = []

    async with make_client(args, concurrency) as client:

        async def one(i: int, record: bool = True) -> None:
            t0 = time.perf_counter()
            try:
                r = await client.post("/runs/wait", json=run_body(args, graph))
                dt = time.perf_counter() - t0
                if r.status_code != 200:
                    if record:
                        errors.add(f"http_{r.status_code}", r.text)
                    return
                try:
                    data = r.json()
                except ValueError:
                    if record:
                        errors.add("bad_json", r.text)
                    return
                if isinstance(data, dict) and "__error__" in data:
                    if record:
                        errors.add("run_error", json.dumps(data["__error__"]))
                    return
                if record:
                    lats.append(dt)
            except httpx.TimeoutException as e:
                if record:
                    errors.add("timeout", repr(e), timeout=True)
            except Exception as e:  # noqa: BLE001
                if record:
                    errors.add(type(e).__name__, repr(e))

        w = warmup_count(args, concurrency, n)
        if w:
            await pool(
                w, concurrency, lambda i: one(i, record=False), time.monotonic() + args.max_seconds
            )
        with Meter(args.server_pid) as m:
            wall, issued, truncated = await pool(
                n, concurrency, one, time.monotonic() + args.max_seconds
            )
    out = {
        "endpoint": "POST /runs/wait",
        "graph": graph,
        "concurrency": concurrency,
        "n": n,
        "issued": issued,
        "ok": len(lats),
        "warmup": w,
        "wall_s": round(wall, 3),
        "throughput_rps": round(len(lats) / wall, 3) if wall > 0 else None,
        "latency_ms": dist_ms(lats),
        "truncated": truncated,
    }
    out.update(m.report(len(lats)))
    out.update(errors.report())
    return out


# --------------------------------------------------------------------------- stream


async def bench_stream(
    args: argparse.Namespace, graph: str, concurrency: int, n: int
) -> dict[str, Any]:
    errors = Errors()
    ttfe: list[float] = []  # first SSE event of any kind
    ttfd: list[float] = []  # first event that is not metadata
    total: list[float] = []
    execs: list[float] = []  # end - first event
    events: list[int] = []
    modes = [m for m in args.stream_mode.split(",") if m]

    async with make_client(args, concurrency) as client:

        async def one(i: int, record: bool = True) -> None:
            t0 = time.perf_counter()
            first = first_data = None
            n_ev = 0
            cur_event = None
            saw_error = None
            try:
                body = run_body(args, graph, stream_mode=modes if len(modes) > 1 else modes[0])
                async with client.stream("POST", "/runs/stream", json=body) as r:
                    if r.status_code != 200:
                        txt = (await r.aread()).decode(errors="replace")
                        if record:
                            errors.add(f"http_{r.status_code}", txt)
                        return
                    async for line in r.aiter_lines():
                        if line.startswith("event:"):
                            cur_event = line[6:].strip()
                        elif line == "":
                            if cur_event is not None:
                                now = time.perf_counter()
                                n_ev += 1
                                if first is None:
                                    first = now
                                if first_data is None and cur_event != "metadata":
                                    first_data = now
                                if cur_event == "error":
                                    saw_error = cur_event
                            cur_event = None
                        elif line.startswith("data:") and cur_event == "error":
                            saw_error = line[5:].strip()
                end = time.perf_counter()
                if not record:
                    return
                if saw_error is not None:
                    errors.add("run_error", str(saw_error))
                    return
                if first is None:
                    errors.add("no_events", "stream ended without events")
                    return
                ttfe.append(first - t0)
                ttfd.append((first_data or end) - t0)
                total.append(end - t0)
                execs.append(end - first)
                events.append(n_ev)
            except httpx.TimeoutException as e:
                if record:
                    errors.add("timeout", repr(e), timeout=True)
            except Exception as e:  # noqa: BLE001
                if record:
                    errors.add(type(e).__name__, repr(e))

        w = warmup_count(args, concurrency, n)
        if w:
            await pool(
                w, concurrency, lambda i: one(i, record=False), time.monotonic() + args.max_seconds
            )
        with Meter(args.server_pid) as m:
            wall, issued, truncated = await pool(
                n, concurrency, one, time.monotonic() + args.max_seconds
            )
    out = {
        "endpoint": "POST /runs/stream",
        "graph": graph,
        "stream_mode": modes,
        "concurrency": concurrency,
        "n": n,
        "issued": issued,
        "ok": len(total),
        "warmup": w,
        "wall_s": round(wall, 3),
        "throughput_rps": round(len(total) / wall, 3) if wall > 0 else None,
        "first_event_ms": dist_ms(ttfe),
        "first_data_event_ms": dist_ms(ttfd),
        "end_ms": dist_ms(total),
        "exec_ms": dist_ms(execs),
        "events_per_run": statistics.median(events) if events else None,
        "truncated": truncated,
    }
    out.update(m.report(len(total)))
    out.update(errors.report())
    return out


# --------------------------------------------------------------------------- background


def _parse_ts(s: Any) -> float | None:
    if not isinstance(s, str):
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


async def bench_background(
    args: argparse.Namespace, graph: str, concurrency: int, n: int
) -> dict[str, Any]:
    errors = Errors()
    deadline = time.monotonic() + args.max_seconds
    threads: list[str | None] = [None] * n
    runs: list[str | None] = [None] * n
    done_at: list[float | None] = [None] * n
    join_ok = 0

    async with make_client(args, concurrency) as client:
        # 1. threads (timed separately, not part of the completion figure)
        async def mk_thread(i: int) -> None:
            try:
                r = await client.post("/threads", json={})
                if r.status_code != 200:
                    errors.add(f"thread_http_{r.status_code}", r.text)
                    return
                threads[i] = r.json()["thread_id"]
            except httpx.TimeoutException as e:
                errors.add("thread_timeout", repr(e), timeout=True)
            except Exception as e:  # noqa: BLE001
                errors.add("thread_" + type(e).__name__, repr(e))

        t_wall, _, _ = await pool(n, concurrency, mk_thread, deadline)

        # 2. create runs, 3. join/poll until all done
        with Meter(args.server_pid) as m:
            t0 = time.perf_counter()

            async def mk_run(i: int) -> None:
                tid = threads[i]
                if tid is None:
                    return
                try:
                    r = await client.post(f"/threads/{tid}/runs", json=run_body(args, graph))
                    if r.status_code != 200:
                        errors.add(f"create_http_{r.status_code}", r.text)
                        return
                    runs[i] = r.json()["run_id"]
                except httpx.TimeoutException as e:
                    errors.add("create_timeout", repr(e), timeout=True)
                except Exception as e:  # noqa: BLE001
                    errors.add("create_" + type(e).__name__, repr(e))

            c_wall, _, c_trunc = await pool(n, concurrency, mk_run, deadline)
            created = sum(1 for r in runs if r)

            async def join(i: int) -> None:
                nonlocal join_ok
                tid, rid = threads[i], runs[i]
                if not rid:
                    return
                try:
                    if args.bg_wait == "join":
                        r = await client.get(f"/threads/{tid}/runs/{rid}/join")
                        if r.status_code != 200:
                            errors.add(f"join_http_{r.status_code}", r.text)
                            return
                    else:
                        while True:
                            r = await client.get(f"/threads/{tid}/runs/{rid}")
                            if r.status_code != 200:
                                errors.add(f"poll_http_{r.status_code}", r.text)
                                return
                            if r.json().get("status") not in ("pending", "running"):
                                break
                            if time.monotonic() > deadline:
                                errors.add("poll_deadline", rid, timeout=True)
                                return
                            await asyncio.sleep(args.poll_interval)
                    done_at[i] = time.perf_counter()
                    join_ok += 1
                except httpx.TimeoutException as e:
                    errors.add("join_timeout", repr(e), timeout=True)
                except Exception as e:  # noqa: BLE001
                    errors.add("join_" + type(e).__name__, repr(e))

            j_wall, _, j_trunc = await pool(n, concurrency, join, deadline + 60)
            t_end = time.perf_counter()

        # 4. verify statuses and read server-side timestamps (not timed)
        statuses: dict[str, int] = {}
        server_lat: list[float] = []
        created_ts: list[float] = []
        done_ts: list[float] = []

        async def check(i: int) -> None:
            tid, rid = threads[i], runs[i]
            if not rid:
                return
            try:
                r = await client.get(f"/threads/{tid}/runs/{rid}")
                if r.status_code != 200:
                    statuses[f"http_{r.status_code}"] = statuses.get(f"http_{r.status_code}", 0) + 1
                    return
                run = r.json()
                st = run.get("status", "?")
                statuses[st] = statuses.get(st, 0) + 1
                a, b = _parse_ts(run.get("created_at")), _parse_ts(run.get("updated_at"))
                if a is not None and b is not None and st == "success":
                    server_lat.append(b - a)
                    created_ts.append(a)
                    done_ts.append(b)
            except Exception as e:  # noqa: BLE001
                statuses[type(e).__name__] = statuses.get(type(e).__name__, 0) + 1

        await pool(n, concurrency, check, time.monotonic() + 120)

    succeeded = statuses.get("success", 0)
    total_s = t_end - t0
    # server-side view, independent of join/poll overhead: first created_at -> last updated_at
    server_span = (max(done_ts) - min(created_ts)) if done_ts else None
    out = {
        "endpoint": "POST /threads/{id}/runs + GET .../join",
        "graph": graph,
        "concurrency": concurrency,
        "n": n,
        "bg_wait": args.bg_wait,
        "threads_created": sum(1 for t in threads if t),
        "threads_wall_s": round(t_wall, 3),
        "runs_created": created,
        "create_wall_s": round(c_wall, 3),
        "create_rps": round(created / c_wall, 3) if c_wall > 0 else None,
        "joined": join_ok,
        "all_done_s": round(total_s, 3),
        "completions_per_s": round(succeeded / total_s, 3) if total_s > 0 else None,
        "statuses": statuses,
        "server_create_to_done_ms": dist_ms(server_lat),
        "server_span_s": round(server_span, 3) if server_span else None,
        "server_completions_per_s": round(len(done_ts) / server_span, 3) if server_span else None,
        "truncated": bool(c_trunc or j_trunc),
    }
    out.update(m.report(succeeded))
    out.update(errors.report())
    return out


# --------------------------------------------------------------------------- smoke (SDK)


async def smoke(args: argparse.Namespace) -> dict[str, Any]:
    from langgraph_sdk import get_client

    c = get_client(url=args.url, api_key=args.api_key or None)
    checks: dict[str, Any] = {}

    async def check(name: str, coro: Awaitable[Any]) -> Any:
        try:
            val = await asyncio.wait_for(coro, args.timeout)
            checks[name] = {"ok": True}
            return val
        except Exception as e:  # noqa: BLE001
            checks[name] = {"ok": False, "error": f"{type(e).__name__}: {str(e)[:300]}"}
            return None

    inp = json.loads(args.input)
    found = await check("assistants.search", c.assistants.search(graph_id=args.graph))
    if found is not None:
        checks["assistants.search"]["found"] = len(found)
    t = await check("threads.create", c.threads.create())
    tid = t["thread_id"] if t else None
    if tid:
        out = await check("runs.wait(thread)", c.runs.wait(tid, args.graph, input=inp))
        checks["runs.wait(thread)"]["output"] = out
    out = await check("runs.wait(stateless)", c.runs.wait(None, args.graph, input=inp))
    checks["runs.wait(stateless)"]["output"] = out

    async def do_stream() -> list[str]:
        evs = []
        async for part in c.runs.stream(tid, args.graph, input=inp, stream_mode="values"):
            evs.append(part.event)
        return evs

    if tid:
        evs = await check("runs.stream(thread)", do_stream())
        checks["runs.stream(thread)"]["events"] = evs

        async def bg() -> dict[str, Any]:
            run = await c.runs.create(tid, args.graph, input=inp)
            joined = await c.runs.join(tid, run["run_id"])
            got = await c.runs.get(tid, run["run_id"])
            return {"status": got["status"], "joined": joined}

        r = await check("runs.create+join", bg())
        if r:
            checks["runs.create+join"].update(r)
            checks["runs.create+join"]["ok"] = r["status"] == "success"

        async def cancel() -> dict[str, Any]:
            t2 = await c.threads.create()
            run = await c.runs.create(t2["thread_id"], args.graph, input=inp)
            await c.runs.cancel(t2["thread_id"], run["run_id"], wait=True)
            got = await c.runs.get(t2["thread_id"], run["run_id"])
            return {"status": got["status"]}

        r = await check("runs.cancel", cancel())
        if r:
            checks["runs.cancel"].update(r)
            # a very fast server may legitimately finish the run before the cancel lands
            checks["runs.cancel"]["ok"] = r["status"] in ("interrupted", "success")
            checks["runs.cancel"]["raced"] = r["status"] == "success"
        lst = await check("runs.list", c.runs.list(tid))
        if lst is not None:
            checks["runs.list"]["statuses"] = [x["status"] for x in lst]
        st = await check("threads.get_state", c.threads.get_state(tid))
        if st is not None:
            checks["threads.get_state"]["values"] = st.get("values")
    return {
        "smoke": checks,
        "passed": sum(1 for v in checks.values() if v.get("ok")),
        "failed": sum(1 for v in checks.values() if not v.get("ok")),
    }


# --------------------------------------------------------------------------- suite


def per_step(a_ms: float | None, b_ms: float | None, extra_steps: int) -> float | None:
    if a_ms is None or b_ms is None:
        return None
    return round((b_ms - a_ms) / extra_steps, 3)


async def suite(args: argparse.Namespace) -> dict[str, Any]:
    res: dict[str, Any] = {}
    parts = set(args.parts.split(","))
    g1, g2 = args.graph, args.steps_graph
    mem0 = proc_mem_mb(args.server_pid)
    db0 = proc_mem_mb(DB_PID)

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    if "wait" in parts:
        for g in (g1, g2):
            for c, n in ((1, args.n_seq), (args.conc, args.n_conc)):
                log(f"wait {g} c={c} n={n}")
                res[f"wait_{g}_c{c}"] = await bench_wait(args, g, c, n)
    if "stream" in parts:
        for g in (g1, g2):
            log(f"stream {g} c=1 n={args.n_stream}")
            res[f"stream_{g}_c1"] = await bench_stream(args, g, 1, args.n_stream)
    if "background" in parts:
        log(f"background {g1} c={args.conc} n={args.n_bg} (join)")
        args.bg_wait = "join"
        res[f"background_{g1}"] = await bench_background(args, g1, args.conc, args.n_bg)
    if "background_poll" in parts:
        log(f"background {g1} c={args.conc} n={args.n_bg} (poll every {args.poll_interval}s)")
        args.bg_wait = "poll"
        res[f"background_poll_{g1}"] = await bench_background(args, g1, args.conc, args.n_bg)
    mem1 = proc_mem_mb(args.server_pid)
    db1 = proc_mem_mb(DB_PID)

    k = args.steps - 1
    get = lambda key, *path: _dig(res, key, *path)  # noqa: E731
    overhead = {
        "extra_steps": k,
        "from_wait_p50_c1_ms": per_step(
            get(f"wait_{g1}_c1", "latency_ms", "p50"), get(f"wait_{g2}_c1", "latency_ms", "p50"), k
        ),
        "from_stream_exec_p50_ms": per_step(
            get(f"stream_{g1}_c1", "exec_ms", "p50"), get(f"stream_{g2}_c1", "exec_ms", "p50"), k
        ),
        "from_wait_throughput_c%d_ms" % args.conc: per_step(
            _inv_ms(get(f"wait_{g1}_c{args.conc}", "throughput_rps")),
            _inv_ms(get(f"wait_{g2}_c{args.conc}", "throughput_rps")),
            k,
        ),
        "from_server_cpu_ms": per_step(
            get(f"wait_{g1}_c{args.conc}", "server_cpu_ms_per_run"),
            get(f"wait_{g2}_c{args.conc}", "server_cpu_ms_per_run"),
            k,
        ),
    }
    res["per_step_overhead_ms"] = overhead
    res["server_memory"] = {"before": mem0, "after": mem1}
    if DB_PID:
        res["db_memory"] = {"before": db0, "after": db1}

    # flat summary of the headline figures
    c = args.conc
    res["summary"] = {
        f"wait_c1_rps": get(f"wait_{g1}_c1", "throughput_rps"),
        f"wait_c1_p50_ms": get(f"wait_{g1}_c1", "latency_ms", "p50"),
        f"wait_c1_p95_ms": get(f"wait_{g1}_c1", "latency_ms", "p95"),
        f"wait_c1_p99_ms": get(f"wait_{g1}_c1", "latency_ms", "p99"),
        f"wait_c{c}_rps": get(f"wait_{g1}_c{c}", "throughput_rps"),
        f"wait_c{c}_p50_ms": get(f"wait_{g1}_c{c}", "latency_ms", "p50"),
        f"wait_c{c}_p95_ms": get(f"wait_{g1}_c{c}", "latency_ms", "p95"),
        f"wait_c{c}_p99_ms": get(f"wait_{g1}_c{c}", "latency_ms", "p99"),
        f"wait_steps_c1_p50_ms": get(f"wait_{g2}_c1", "latency_ms", "p50"),
        f"wait_steps_c{c}_rps": get(f"wait_{g2}_c{c}", "throughput_rps"),
        "stream_first_event_p50_ms": get(f"stream_{g1}_c1", "first_event_ms", "p50"),
        "stream_end_p50_ms": get(f"stream_{g1}_c1", "end_ms", "p50"),
        "stream_steps_first_event_p50_ms": get(f"stream_{g2}_c1", "first_event_ms", "p50"),
        "stream_steps_end_p50_ms": get(f"stream_{g2}_c1", "end_ms", "p50"),
        "bg_create_rps": get(f"background_{g1}", "create_rps"),
        "bg_completions_per_s": get(f"background_{g1}", "completions_per_s"),
        "bg_all_done_s": get(f"background_{g1}", "all_done_s"),
        "bg_server_create_to_done_p50_ms": get(
            f"background_{g1}", "server_create_to_done_ms", "p50"
        ),
        "bg_server_completions_per_s": get(f"background_{g1}", "server_completions_per_s"),
        "bg_poll_completions_per_s": get(f"background_poll_{g1}", "completions_per_s"),
        "bg_poll_all_done_s": get(f"background_poll_{g1}", "all_done_s"),
        "bg_poll_server_completions_per_s": get(
            f"background_poll_{g1}", "server_completions_per_s"
        ),
        "per_step_ms_wait_p50": overhead["from_wait_p50_c1_ms"],
        "per_step_ms_stream_exec": overhead["from_stream_exec_p50_ms"],
        f"per_step_ms_wait_c{c}_throughput": overhead[f"from_wait_throughput_c{c}_ms"],
        "per_step_server_cpu_ms": overhead["from_server_cpu_ms"],
        f"server_cpu_ms_per_run_c{c}": get(f"wait_{g1}_c{c}", "server_cpu_ms_per_run"),
        "server_peak_rss_mb": (mem1 or {}).get("vmhwm_mb"),
        "server_rss_before_mb": (mem0 or {}).get("vmrss_mb"),
        f"db_cpu_ms_per_run_c{c}": get(f"wait_{g1}_c{c}", "db_cpu_ms_per_run"),
        "db_tree_rss_after_mb": (db1 or {}).get("tree_vmrss_sum_mb"),
        "total_errors": sum(v.get("errors", 0) for v in res.values() if isinstance(v, dict)),
    }
    return res


def _dig(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def _inv_ms(rps: float | None) -> float | None:
    return None if not rps else 1000.0 / rps


# --------------------------------------------------------------------------- aggregate


def aggregate(files: list[str]) -> dict[str, Any]:
    docs = []
    for f in files:
        with open(f) as fh:
            txt = fh.read().strip()
        docs.append(
            json.loads(txt[txt.index("{") :]) if not txt.startswith("{") else json.loads(txt)
        )

    def merge(vals: list[Any]) -> Any:
        present = [v for v in vals if v is not None]
        if not present:
            return None
        if all(isinstance(v, bool) for v in present):
            return any(present)
        if all(isinstance(v, (int, float)) for v in present):
            return round(statistics.median(present), 3)
        if all(isinstance(v, dict) for v in present):
            keys: list[str] = []
            for v in present:
                keys.extend(k for k in v if k not in keys)
            return {k: merge([v.get(k) for v in present]) for k in keys}
        return present[0] if all(v == present[0] for v in present) else present

    out = merge(docs)
    out["aggregate"] = {"files": files, "reps": len(docs), "method": "median per leaf"}
    if isinstance(out.get("summary"), dict):
        out["summary_all_reps"] = {k: [_dig(d, "summary", k) for d in docs] for k in out["summary"]}
    return out


# --------------------------------------------------------------------------- main


def check_loopback(url: str) -> None:
    host = urllib.parse.urlparse(url).hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    sys.exit(f"refusing non-loopback URL {url!r} (pass --allow-remote to override)")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "httpx": httpx.__version__}
    try:
        from importlib.metadata import version

        out["langgraph_sdk"] = version("langgraph-sdk")
    except Exception:  # noqa: BLE001
        pass
    return out


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--url", default="http://127.0.0.1:2024")
    p.add_argument(
        "--mode",
        default="suite",
        choices=["wait", "stream", "background", "overhead", "suite", "smoke", "aggregate"],
    )
    p.add_argument("--graph", default="echo", help="assistant id or graph id (echo graph)")
    p.add_argument("--steps-graph", default="steps5", help="graph with --steps sequential nodes")
    p.add_argument("--steps", type=int, default=5, help="node count of --steps-graph (echo has 1)")
    p.add_argument("--concurrency", type=int, default=1, help="for wait/stream/background modes")
    p.add_argument(
        "--n", type=int, default=200, help="measured requests for wait/stream/background"
    )
    p.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="unmeasured requests first (default max(5, concurrency))",
    )
    p.add_argument("--input", default='{"message": "hi"}', help="run input JSON")
    p.add_argument("--stream-mode", default="values", help="comma-separated stream modes")
    p.add_argument("--bg-wait", default="join", choices=["join", "poll"])
    p.add_argument("--poll-interval", type=float, default=0.05)
    p.add_argument("--server-pid", type=int, default=None)
    p.add_argument(
        "--db-pid", type=int, default=None, help="database root pid (CPU/RSS of its process tree)"
    )
    p.add_argument("--api-key", default=os.environ.get("AP_BENCH_API_KEY", ""))
    p.add_argument("--timeout", type=float, default=60.0, help="per-request timeout, s")
    p.add_argument("--max-seconds", type=float, default=600.0, help="cap per measurement, s")
    # suite settings
    p.add_argument(
        "--parts",
        default="wait,stream,background,background_poll",
        help="suite parts: wait, stream, background (join), background_poll",
    )
    p.add_argument("--conc", type=int, default=32, help="suite: the high concurrency level")
    p.add_argument("--n-seq", type=int, default=100, help="suite: runs at concurrency 1")
    p.add_argument("--n-conc", type=int, default=1000, help="suite: runs at --conc")
    p.add_argument("--n-stream", type=int, default=50, help="suite: streamed runs per graph")
    p.add_argument("--n-bg", type=int, default=500, help="suite: background runs")
    p.add_argument("--label", default="", help="free text stored in the output")
    p.add_argument("--out", default=None, help="also write the JSON here")
    p.add_argument("--aggregate", nargs="*", default=None)
    p.add_argument("--allow-remote", action="store_true")
    args = p.parse_args()

    global DB_PID
    DB_PID = args.db_pid
    if args.mode == "aggregate":
        result = aggregate(args.aggregate or [])
    else:
        if not args.allow_remote:
            check_loopback(args.url)
        meta = {
            "harness": HARNESS_VERSION,
            "url": args.url,
            "mode": args.mode,
            "label": args.label,
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "client": versions(),
            "cpu_count": os.cpu_count(),
            "server_pid": args.server_pid,
            "db_pid": args.db_pid,
        }
        t0 = time.perf_counter()
        if args.mode == "wait":
            result = await_(bench_wait(args, args.graph, args.concurrency, args.n))
        elif args.mode == "stream":
            result = await_(bench_stream(args, args.graph, args.concurrency, args.n))
        elif args.mode == "background":
            result = await_(bench_background(args, args.graph, args.concurrency, args.n))
        elif args.mode == "overhead":
            args.parts = "wait,stream"
            args.conc = max(args.concurrency, 2)
            result = await_(suite(args))
            result = {
                "per_step_overhead_ms": result["per_step_overhead_ms"],
                "detail": {k: v for k, v in result.items() if k.startswith(("wait_", "stream_"))},
            }
        elif args.mode == "smoke":
            result = await_(smoke(args))
        else:
            result = await_(suite(args))
        if args.mode not in ("suite", "overhead", "smoke"):
            result["server_memory"] = proc_mem_mb(args.server_pid)
        meta["elapsed_s"] = round(time.perf_counter() - t0, 1)
        result = {"meta": meta, **result}

    text = json.dumps(result, indent=1, default=str)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)


def await_(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
