#!/usr/bin/env python3
"""Benchmark evidence exports and offline verification: N runs with files, exported, checked.

Usage
  .venv/bin/python bench/evidence.py [--db sqlite|postgres] [--runs N] [--file-kib K]
                                     [--max-seconds S] [--out FILE]

Starts its own server (``runplane.testing.server.LiveServer``, loopback, a free port) on a
fresh database (SQLite: a file in a temp dir; Postgres: ``runplane_bench_evidence`` on
postgresql://postgres@127.0.0.1:5432/, dropped and made again), makes an admin key, then:

  setup    N files of K KiB of random bytes uploaded into a site, and N ``artifacts`` runs
           (one step, one file saved each), each given one of the uploads (``file_ids``):
           every run has a file it read and a file it made.
  export   POST /v1/governance/exports {"query": {"agent_id": "artifacts"}}; time until it
           has succeeded: runs/s and MB/s (the zip's size over the time).
  download GET its download_url.
  verify   ``verify_bundle`` (in this process, offline) with the tenant's public key:
           runs/s and MB/s; the verdict must be VALID.

Each phase stops issuing work after --max-seconds. A summary goes to stderr; the last
line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from runplane.domain.evidence import verify_bundle
from runplane.testing.server import LiveServer, create_key

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "runplane_bench_evidence"
CLIENTS = 16


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fresh_database(db: str, tmp: Path) -> str:
    if db == "sqlite":
        return f"sqlite:///{tmp}/evidence.db"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_DB}"')
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_DB


async def in_pool(n: int, deadline: float, fn: Any) -> int:
    """Call ``fn(i)`` for i in range(n), CLIENTS at a time, none started after ``deadline``."""
    done = 0
    queue = iter(range(n))

    async def worker() -> None:
        nonlocal done
        for i in queue:
            if time.monotonic() > deadline:
                return
            await fn(i)
            done += 1

    await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    return done


async def setup(api: httpx.AsyncClient, runs: int, kib: int, max_s: float) -> list[str]:
    site = (await api.post("/v1/sites", json={"name": "bench"})).json()["id"]
    ids: list[str] = []
    began = time.monotonic()
    deadline = began + max_s

    async def one(i: int) -> None:
        data = os.urandom(kib * 1024)
        r = await api.post(
            "/v1/files", files={"file": (f"input-{i}.bin", data)}, data={"site_id": site}
        )
        r.raise_for_status()
        body = {"agent_id": "artifacts", "input": {"parts": 1}, "file_ids": [r.json()["id"]]}
        run = await api.post("/v1/runs", json=body)
        run.raise_for_status()
        ids.append(run.json()["id"])

    made = await in_pool(runs, deadline, one)
    log(f"setup    {made} uploads + runs started in {time.monotonic() - began:.1f} s")
    while True:  # until every run has ended (or a minute past the deadline)
        pending = len(ids) - await _count_succeeded(api)
        if pending <= 0 or time.monotonic() > deadline + 60:
            break
        await asyncio.sleep(0.5)
    log(
        f"setup    {len(ids) - max(pending, 0)} of {len(ids)} runs succeeded, "
        f"{time.monotonic() - began:.1f} s"
    )
    return ids


async def _count_succeeded(api: httpx.AsyncClient) -> int:
    count, token = 0, None
    while True:
        params: dict[str, Any] = {"agent_id": "artifacts", "status": "succeeded", "limit": 100}
        if token:
            params["continuation_token"] = token
        page = (await api.get("/v1/runs", params=params)).json()
        count += len(page["items"])
        token = page.get("continuation_token")
        if not token:
            return count


async def measure(url: str, key: str, args: argparse.Namespace) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as api:
        ids = await setup(api, args.runs, args.file_kib, args.max_seconds)
        began = time.monotonic()
        r = await api.post("/v1/governance/exports", json={"query": {"agent_id": "artifacts"}})
        r.raise_for_status()
        export = r.json()
        while export["status"] not in ("succeeded", "failed"):
            if time.monotonic() - began > args.max_seconds:
                raise SystemExit(f"export not done after {args.max_seconds} s: {export}")
            await asyncio.sleep(0.1)
            export = (await api.get(f"/v1/governance/exports/{export['id']}")).json()
        export_s = time.monotonic() - began
        assert export["status"] == "succeeded", export
        got = await api.get(export["download_url"])
        keys = [k["public_key"] for k in (await api.get("/v1/governance/keys")).json()["items"]]
    mb = len(got.content) / 1e6
    log(
        f"export   {export['runs_total']} runs, {mb:.1f} MB in {export_s:.2f} s: "
        f"{export['runs_total'] / export_s:.0f} runs/s, {mb / export_s:.1f} MB/s"
    )
    began = time.monotonic()
    verdict = verify_bundle(got.content, keys)
    verify_s = time.monotonic() - began
    assert verdict.ok, verdict.problems[:5]
    log(
        f"verify   {verdict.runs} runs, {verdict.members} members, {verdict.events} events in "
        f"{verify_s:.2f} s: {verdict.runs / verify_s:.0f} runs/s, {mb / verify_s:.1f} MB/s"
    )
    return {
        "runs": export["runs_total"],
        "runs_made": len(ids),
        "file_kib": args.file_kib,
        "bundle_mb": round(mb, 2),
        "export_seconds": round(export_s, 3),
        "export_runs_per_s": round(export["runs_total"] / export_s, 1),
        "export_mb_per_s": round(mb / export_s, 2),
        "verify_seconds": round(verify_s, 3),
        "verify_runs_per_s": round(verdict.runs / verify_s, 1),
        "verify_mb_per_s": round(mb / verify_s, 2),
        "members": verdict.members,
        "events": verdict.events,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--file-kib", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rp-bench-evidence-") as tmp:
        url = fresh_database(args.db, Path(tmp))
        env = {"RUNPLANE_CONCURRENCY": "64", "RUNPLANE_MAX_BODY_BYTES": str(8 << 20)}
        server = LiveServer(url, cwd=Path(tmp), project=REPO / "runplane.toml", env=env)
        with server:
            key = create_key(url, tenant="bench")
            result = {"db": args.db, **asyncio.run(measure(server.url, key, args))}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
