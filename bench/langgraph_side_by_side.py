#!/usr/bin/env python3
"""`langgraph dev` and runplane side by side, in one run, under the shared load harness.

Usage
  .venv/bin/python bench/langgraph_side_by_side.py [--db sqlite|postgres] [--quick]
      [--processes 1,2] [--only runplane|langgraph] [--out FILE] [--lg-venv PATH]

The servers run on 127.0.0.1 on free ports and are measured one after the other
(langgraph dev first, then runplane once per process count in --processes, in that order)
with `bench/agent_protocol_bench.py --mode suite --parts wait,stream,background` (the
shared Agent Protocol harness v1.1, vendored), which talks to each over the LangGraph
Agent Server API (POST /runs/wait, /runs/stream, /threads/{id}/runs, GET .../join).

  langgraph dev  `langgraph dev --no-browser --no-reload` in a temp copy of bench/peer
                 (graphs `echo` and `steps5`), in-memory, offline (no tracing, no
                 analytics, no version check). Its venv (--lg-venv, default .lg-venv) is
                 created with `pip install 'langgraph-cli[inmem]' langgraph` if missing.
  runplane ×N    the real server (bench/runs.py's subprocess) with RUNPLANE_PROCESSES=N:
                 N server processes sharing the port (uvicorn workers, one per core; each
                 a whole runplane server with its own executor id, under one parent
                 process), each with RUNPLANE_CONCURRENCY=64. Every N gets a fresh
                 database: --db sqlite (a temp dir) or postgres (database runplane_lgbench
                 dropped and recreated); project runplane.toml; the same graphs are served
                 as `lg_echo` and `lg_steps5`. An API key is created in-process. With N > 1
                 the measurement starts once /healthz has answered from N executor ids.
                 --processes takes a comma-separated list (default 1,2).

The load generator runs on the same machine as the servers, and the benchmark machine has
2 cores (machine.cpu_count in the JSON): ×2 shares both cores with the client, so it shows
what a second process buys on this box, not on a machine with cores to spare.

Figures (from the harness's summary; ms are client-side wall times, p50 interpolated)
  /runs/wait echo c1 p50       one stateless run in flight, round trip of POST /runs/wait
  /runs/wait echo c32 runs/s   32 in flight, successful runs / wall time
  steps5 c1 p50, c32 runs/s    the same for the five-node graph
  /runs/stream first event     POST /runs/stream (stream_mode values) to the first SSE event
  per-step overhead            (steps5 - echo) / 4 from the wait c1 p50, and from the
                               stream's exec time (end of stream - first event)
  background completions/s     N threads, N x POST /threads/{id}/runs (32 in flight), then
                               GET .../join for all: successful runs / (create..last join)
  server peak RSS              VmHWM of the server process after the suite; for runplane
                               ×N with N > 1, the sum of VmHWM over its process tree (the
                               parent plus the N server processes; per-process peaks, so
                               an upper bound of the tree's peak)
  server CPU ms/run            utime+stime of the server's process tree during echo c32
                               (all N processes of runplane ×N)
  db CPU ms/run                the same for the Postgres postmaster's tree (--db postgres)
  errors                       failed requests/runs over the whole suite

langgraph dev's c1 and first-event figures sit near 1 s: its in-memory queue polls once a
second. --quick uses n = 20 (c1), 200 (c32), 10 (stream), 100 (background) instead of the
harness's 100 / 1000 / 50 / 500.

One POST /runs/wait per server first fails the side early if a route or graph is missing.
Run it as a file (it imports bench/runs.py as `runs`).

Targets, checked for each runplane ×N separately (✔/✘ next to each runplane figure, ? if
a figure is missing, e.g. with --only runplane): echo c32 runs/s >= langgraph dev's; echo
c1 p50 < 20 ms; first streamed event p50 <= langgraph dev's. The table goes to stderr;
the last thing on stdout is one JSON object {"langgraph_dev": {...}, "runplane": {"1":
{...}, "2": {...}}, "checks": {"1": {...}, "2": {...}}, "db", "processes", ...} (keys of
"runplane" and "checks" are the process counts), also written to --out (default
bench/results/lg-side-by-side-<timestamp>.json).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from runs import HOST, free_port, log_tail, machine_facts, running_server

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
HARNESS = BENCH / "agent_protocol_bench.py"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "runplane_lgbench"
GRAPHS = {"langgraph_dev": ("echo", "steps5"), "runplane": ("lg_echo", "lg_steps5")}
OFFLINE_ENV = {
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGSMITH_ENDPOINT": "http://127.0.0.1:9",  # nothing listens there
}
QUICK_N = {"--n-seq": 20, "--n-conc": 200, "--n-stream": 10, "--n-bg": 100}
FULL_N = {"--n-seq": 100, "--n-conc": 1000, "--n-stream": 50, "--n-bg": 500}
ROWS = [  # (label, key in the harness's summary)
    ("/runs/wait echo c1 p50 ms", "wait_c1_p50_ms"),
    ("/runs/wait echo c32 runs/s", "wait_c32_rps"),
    ("/runs/wait steps5 c1 p50 ms", "wait_steps_c1_p50_ms"),
    ("/runs/wait steps5 c32 runs/s", "wait_steps_c32_rps"),
    ("/runs/stream first event p50 ms", "stream_first_event_p50_ms"),
    ("per-step overhead ms (wait c1 p50)", "per_step_ms_wait_p50"),
    ("per-step overhead ms (stream exec)", "per_step_ms_stream_exec"),
    ("{n_bg} background runs: completions/s", "bg_completions_per_s"),
    ("server peak RSS MB", "server_peak_rss_mb"),
    ("server CPU ms/run (echo c32)", "server_cpu_ms_per_run_c32"),
    ("db CPU ms/run (echo c32)", "db_cpu_ms_per_run_c32"),
    ("errors", "total_errors"),
]
MARKS = {True: "✔", False: "✘", None: "n/a"}
CHECKS = {  # name -> (summary key, comparison, limit: a number or "langgraph_dev")
    "echo_c32_rps_ge_langgraph_dev": ("wait_c32_rps", ">=", "langgraph_dev"),
    "echo_c1_p50_lt_20ms": ("wait_c1_p50_ms", "<", 20.0),
    "stream_first_event_le_langgraph_dev": ("stream_first_event_p50_ms", "<=", "langgraph_dev"),
}


# ----------------------------------------------------------------------------- processes


def stop(proc: subprocess.Popen[bytes], group: bool = False, grace: float = 15.0) -> None:
    """SIGTERM (to its process group if it leads one), then SIGKILL after `grace` s."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            if group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
            proc.wait(timeout=grace)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def wait_ready(proc: subprocess.Popen[bytes], url: str, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} not answering within {limit_s:.0f} s")
        time.sleep(0.2)


def postmaster_pid() -> int | None:
    for path in sorted(glob.glob("/var/run/postgresql/*.pid")):
        try:
            return int(Path(path).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    out = subprocess.run(["pgrep", "-o", "postgres"], capture_output=True, text=True)
    return int(out.stdout.split()[0]) if out.stdout.strip() else None


# ----------------------------------------------------------------------------- langgraph dev


def ensure_lg_venv(venv: Path) -> None:
    if (venv / "bin" / "langgraph").exists():
        return
    print(f"creating {venv} (pip install langgraph-cli[inmem] langgraph) ...", file=sys.stderr)
    python3 = shutil.which("python3") or sys.executable
    subprocess.run([python3, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    subprocess.run([*pip, "-q", "langgraph-cli[inmem]", "langgraph"], check=True, timeout=1200)


def lg_versions(venv: Path) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
        "('langgraph-cli', 'langgraph-api', 'langgraph', 'langgraph-runtime-inmem')}))"
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, timeout=60
    )
    return json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr[-300:]}


@contextmanager
def langgraph_dev(venv: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`langgraph dev` in a temp copy of bench/peer; stopped (its whole group) afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="lg-dev-bench-"))
    shutil.copytree(BENCH / "peer", tmp / "peer")
    env = {**os.environ, **OFFLINE_ENV}
    for k in ("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY", "PYTHONPATH"):
        env.pop(k, None)
    port = free_port()
    cmd = [str(venv / "bin" / "langgraph"), "dev", "--host", HOST, "--port", str(port)]
    log_path = tmp / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*cmd, "--no-browser", "--no-reload"],
            cwd=tmp / "peer",
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, so that stop() reaches any children
        )
    try:
        url = f"http://{HOST}:{port}"
        wait_ready(proc, f"{url}/ok", 180.0)
        yield proc, url
    except Exception:
        print(f"--- langgraph dev log tail ---\n{log_tail(log_path, 20)}", file=sys.stderr)
        raise
    finally:
        stop(proc, group=True)
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- runplane


def fresh_database(db: str, tmp: Path) -> str:
    if db == "sqlite":
        return f"sqlite:///{tmp}/bench.db"
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    return f"postgresql://postgres@127.0.0.1:5432/{PG_DB}"


def wait_processes(url: str, n: int, limit_s: float, key: str) -> set[str]:
    """Until /healthz has answered from n executor ids (a new connection each time: the
    kernel hands it to whichever process accepts), so every process is up before load."""
    seen: set[str] = set()
    deadline = time.monotonic() + limit_s
    while len(seen) < n:
        try:
            # An admin key: only it is told the executor id.
            r = httpx.get(
                f"{url}/healthz", headers={"x-api-key": key}, timeout=2.0, trust_env=False
            )
            if r.status_code == 200 and r.json().get("executor_id"):
                seen.add(r.json()["executor_id"])
        except httpx.HTTPError:
            pass
        if len(seen) >= n:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"/healthz answered from {len(seen)} of {n} processes: {seen}")
        time.sleep(0.05)
    return seen


@contextmanager
def runplane_server(
    db: str, processes: int
) -> Iterator[tuple[subprocess.Popen[bytes], str, str, str]]:
    """runplane ×processes on a fresh database (bench/runs.py's server), with a new API key."""
    from runplane.admin import create_api_key
    from runplane.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix=f"runplane-lgbench-{db}-x{processes}-"))
    try:
        url = fresh_database(db, tmp)
        port = free_port()
        env = {"RUNPLANE_PROCESSES": str(processes)}
        with running_server(url, port, tmp, extra_env=env) as proc:
            base = f"http://{HOST}:{port}"
            key = create_api_key(Settings(database_url=url), tenant="bench")
            if processes > 1:
                wait_processes(base, processes, 60.0, key)
            yield proc, base, key, url
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- harness


def preflight(url: str, graph: str, api_key: str | None = None) -> None:
    """One POST /runs/wait, so that a missing route or graph fails early and clearly."""
    headers = {"x-api-key": api_key} if api_key else {}
    body = {"assistant_id": graph, "input": {"message": "hi"}}
    r = httpx.post(f"{url}/runs/wait", json=body, headers=headers, timeout=30.0, trust_env=False)
    if r.status_code != 200:
        raise RuntimeError(f"preflight POST /runs/wait ({graph}): {r.status_code} {r.text[:200]}")


def run_harness(url: str, pid: int, side: str, args: argparse.Namespace, **opt: Any) -> Any:
    """The harness's suite against one server; its JSON output."""
    graph, steps_graph = GRAPHS[side]
    preflight(url, graph, opt.get("api_key"))
    out = Path(tempfile.mkstemp(prefix=f"apb-{side}-", suffix=".json")[1])
    cmd = [sys.executable, str(HARNESS), "--mode", "suite", "--url", url]
    cmd += ["--server-pid", str(pid), "--graph", graph, "--steps-graph", steps_graph]
    cmd += ["--parts", "wait,stream,background", "--conc", "32", "--label", opt["label"]]
    cmd += ["--max-seconds", "60" if args.quick else "300", "--out", str(out)]
    for flag, n in (QUICK_N if args.quick else FULL_N).items():
        cmd += [flag, str(n)]
    if opt.get("api_key"):
        cmd += ["--api-key", opt["api_key"]]
    if opt.get("db_pid"):
        cmd += ["--db-pid", str(opt["db_pid"])]
    print(f"[{opt['label']}] harness: {' '.join(cmd[1:3])} ... --url {url}", file=sys.stderr)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)  # progress lines go to stderr
    try:
        rc = proc.wait(timeout=900 if args.quick else 3600)
        if rc != 0:
            raise RuntimeError(f"harness exited with {rc}")
        return json.loads(out.read_text())
    finally:
        stop(proc, grace=5.0)
        out.unlink(missing_ok=True)


def measure_langgraph(args: argparse.Namespace) -> dict[str, Any]:
    ensure_lg_venv(args.lg_venv)
    with langgraph_dev(args.lg_venv) as (proc, url):
        info = httpx.get(f"{url}/info", timeout=5.0, trust_env=False).json()
        print(f"[langgraph_dev] pid {proc.pid} on {url}", file=sys.stderr, flush=True)
        res = run_harness(url, proc.pid, "langgraph_dev", args, label="langgraph dev (inmem)")
    return {"server": {"versions": lg_versions(args.lg_venv), "info": info}, **res}


def measure_runplane(args: argparse.Namespace, processes: int) -> dict[str, Any]:
    from importlib.metadata import version

    side = f"runplane x{processes}"
    db_pid = postmaster_pid() if args.db == "postgres" else None
    with runplane_server(args.db, processes) as (proc, url, key, db_url):
        print(f"[{side}] pid {proc.pid} on {url} ({args.db})", file=sys.stderr, flush=True)
        label = f"runplane ×{processes} ({args.db})"
        res = run_harness(url, proc.pid, "runplane", args, label=label, api_key=key, db_pid=db_pid)
    after = (res.get("server_memory") or {}).get("after") or {}
    server = {
        "version": version("runplane"),
        "processes": processes,
        "database_url": db_url,
        "db_pid": db_pid,
        # what the table's "server peak RSS" shows for this column
        "peak_rss_mb": after.get("tree_vmhwm_sum_mb" if processes > 1 else "vmhwm_mb"),
        "peak_rss_basis": f"sum of VmHWM over the process tree ({len(after.get('tree_pids', []))}"
        " processes)"
        if processes > 1
        else "VmHWM of the server process",
    }
    return {"server": server, **res}


# ----------------------------------------------------------------------------- report


def figure(result: dict[str, Any], key: str) -> Any:
    if key == "server_peak_rss_mb" and "peak_rss_mb" in (result.get("server") or {}):
        return result["server"]["peak_rss_mb"]  # runplane: the tree's sum when ×N > 1
    return (result.get("summary") or {}).get(key)


def evaluate(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The checks for each runplane column: {process count: {check name: {...}}}."""
    out: dict[str, dict[str, Any]] = {}
    for n, result in results["runplane"].items():
        checks: dict[str, Any] = {}
        for name, (key, op, limit) in CHECKS.items():
            value = figure(result, key)
            ref = figure(results["langgraph_dev"], key) if isinstance(limit, str) else limit
            ok = None
            if value is not None and ref is not None:
                ok = {">=": value >= ref, "<": value < ref, "<=": value <= ref}[op]
            target = f"{op} {limit}" if not isinstance(limit, str) else f"{op} langgraph dev"
            checks[name] = {"figure": key, "runplane": value, "target": target, "ref": ref}
            checks[name]["pass"] = ok
        out[n] = checks
    return out


def table(results: dict[str, Any], checks: dict[str, dict[str, Any]], n_bg: int) -> str:
    """One column per measured side (runplane: one per process count, each value followed
    by its check's mark), then the target."""

    def cell(v: Any) -> str:
        return "-" if v is None else f"{v:,.1f}" if isinstance(v, float) else str(v)

    counts = list(results["runplane"])
    sides = [("langgraph dev", results["langgraph_dev"], None)]
    sides += [(f"runplane ×{n}", results["runplane"][n], checks[n]) for n in counts]
    marks = {True: "✔", False: "✘", None: "?"}
    head = f"{'figure':40}" + "".join(f" {name:>14}  " for name, _, _ in sides) + "  target"
    lines = [head, "-" * len(head)]
    for label, key in ROWS:
        values = [figure(result, key) for _, result, _ in sides]
        if all(v is None for v in values) and key.startswith("db_"):
            continue
        if key == "server_peak_rss_mb" and any(int(n) > 1 for n in counts):
            label += " (×N>1: tree sum)"
        row, target = f"{label.format(n_bg=n_bg):40}", ""
        for v, (_, _, side_checks) in zip(values, sides, strict=True):
            c = next((c for c in (side_checks or {}).values() if c["figure"] == key), None)
            row += f" {cell(v):>14} " + (marks[c["pass"]] if c else " ")
            target = c["target"] if c else target
        lines.append(f"{row}  {target}".rstrip())
    lines.append("")
    for name, result, _ in sides:
        if "error" in result:
            lines.append(f"{name} FAILED: {result['error'][:300]}")
        elif not result.get("skipped"):
            srv = result.get("server") or {}
            pids = ((result.get("server_memory") or {}).get("after") or {}).get("tree_pids")
            basis = srv.get("peak_rss_basis", "VmHWM of the server process")
            lines.append(f"{name}: peak RSS = {basis}; process tree pids {pids}")
    return "\n".join(lines).rstrip()


def parse_processes(text: str) -> list[int]:
    try:
        counts = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        msg = f"not a comma-separated list of integers: {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not counts or any(not 1 <= n <= 64 for n in counts):
        raise argparse.ArgumentTypeError(f"process counts must be 1..64: {text!r}")
    return list(dict.fromkeys(counts))  # without repeats, in the given order


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--quick", action="store_true", help="smaller n, for a smoke run")
    ap.add_argument(
        "--processes",
        type=parse_processes,
        default=[1, 2],
        help="runplane server process counts to measure, comma-separated (default 1,2)",
    )
    ap.add_argument("--only", choices=["runplane", "langgraph"], help="measure one side only")
    ap.add_argument("--out", type=Path, help="default bench/results/lg-side-by-side-<ts>.json")
    ap.add_argument("--lg-venv", type=Path, default=REPO / ".lg-venv", help="langgraph-cli venv")
    args = ap.parse_args()
    args.lg_venv = args.lg_venv.resolve()
    # unwind on Ctrl-C / SIGTERM (even if started with SIGINT ignored), so servers get stopped
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started_at, load_start = time.strftime("%Y-%m-%dT%H:%M:%S%z"), os.getloadavg()

    def attempt(name: str, fn: Any, *fn_args: Any) -> dict[str, Any]:
        try:
            return fn(*fn_args)
        except Exception as e:  # noqa: BLE001 - report it, and go on with the other sides
            print(f"[{name}] FAILED: {e}", file=sys.stderr)
            return {"error": f"{type(e).__name__}: {e}"}

    results: dict[str, Any] = {"langgraph_dev": {"skipped": True}, "runplane": {}}
    if args.only != "runplane":
        results["langgraph_dev"] = attempt("langgraph_dev", measure_langgraph, args)
    for n in args.processes:
        skip = args.only == "langgraph"
        results["runplane"][str(n)] = (
            {"skipped": True} if skip else attempt(f"runplane x{n}", measure_runplane, args, n)
        )
    checks = evaluate(results)
    report = {
        **results,
        "checks": checks,
        "db": args.db,
        "processes": args.processes,
        "quick": args.quick,
        "started_at": started_at,
        "machine": machine_facts(load_start),
    }
    n_bg = (QUICK_N if args.quick else FULL_N)["--n-bg"]
    print(table(results, checks, n_bg), file=sys.stderr)
    ts = time.strftime("%Y%m%d-%H%M%S")
    out = args.out or BENCH / "results" / f"lg-side-by-side-{ts}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))
    sides = [results["langgraph_dev"], *results["runplane"].values()]
    return 1 if any("error" in r for r in sides) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        sys.exit(130)
