#!/usr/bin/env python3
"""Two versions of runplane side by side: the cost of one ``/runs/stream`` in one process.

    .venv/bin/python bench/stream_ab.py --base /work/main/src --head src [--db postgres] [--n 400]

Starts one server (role ``all``) from each source tree, on databases of their own, and
sends streamed runs of the echo graph to them in turn (ABAB…, then BABA…), one at a
time, so that both see the same machine however loaded it is. Reports for each the
client's latency to the end of the stream, the server's CPU per run (from /proc), and
how many streams came short (without the graph's ``updates`` part). Prints one JSON
object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from runplane.testing.server import LiveServer, create_key

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BODY = {"assistant_id": "lg_echo", "input": {"message": "hi"}, "stream_mode": ["values", "updates"]}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="the src folder of the version to compare to")
    ap.add_argument("--head", default=str(REPO / "src"), help="the src folder measured")
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    ap.add_argument("--n", type=int, default=400, help="measured streams per version")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="stream-ab-"))
    databases: list[str] = []
    servers: dict[str, tuple[LiveServer, httpx.Client]] = {}
    try:
        for name, src in (("base", args.base), ("head", args.head)):
            if args.db == "sqlite":
                url = f"sqlite:///{tmp}/{name}.db"
            else:
                import psycopg

                db = f"rp_stream_ab_{name}_{uuid.uuid4().hex[:6]}"
                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{db}"')
                databases.append(db)
                url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + db
            env = {"PYTHONPATH": str(Path(src).resolve())}
            server = LiveServer(url, cwd=tmp / name, project=REPO / "runplane.toml", env=env)
            server.start(timeout=120)
            # The key is made by the same version (its migrations are the server's).
            saved = os.environ.get("PYTHONPATH")
            os.environ["PYTHONPATH"] = env["PYTHONPATH"]
            try:
                key = create_key(url, tenant="bench")
            finally:
                if saved is None:
                    del os.environ["PYTHONPATH"]
                else:
                    os.environ["PYTHONPATH"] = saved
            headers = {"Authorization": f"Bearer {key}"}
            servers[name] = (server, httpx.Client(base_url=server.url, headers=headers, timeout=60))

        latency: dict[str, list[float]] = {n: [] for n in servers}
        cpu = dict.fromkeys(servers, 0.0)
        short = dict.fromkeys(servers, 0)

        def one(name: str, record: bool) -> None:
            server, client = servers[name]
            assert server.process is not None
            before, started = cpu_seconds(server.process.pid), time.perf_counter()
            with client.stream("POST", "/runs/stream", json=BODY) as r:
                events = [line for line in r.iter_lines() if line.startswith("event:")]
            if record:
                latency[name].append(time.perf_counter() - started)
                cpu[name] += cpu_seconds(server.process.pid) - before
                short[name] += "event: updates" not in events

        for _ in range(30):  # warm-up, not counted
            for name in servers:
                one(name, False)
        for i in range(args.n):
            for name in ("base", "head") if i % 2 == 0 else ("head", "base"):
                one(name, True)
        result = {
            name: {
                "end_p50_ms": round(statistics.median(latency[name]) * 1000, 2),
                "end_mean_ms": round(statistics.mean(latency[name]) * 1000, 2),
                "server_cpu_ms_per_run": round(cpu[name] * 1000 / args.n, 2),
                "short_streams": short[name],
            }
            for name in servers
        }
        print(json.dumps({"db": args.db, "n": args.n, **result}))
    finally:
        for server, client in servers.values():
            client.close()
            server.stop()
        if databases:
            import psycopg

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                for db in databases:
                    conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
