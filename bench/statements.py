#!/usr/bin/env python3
"""How many SQL statements a run sends through SQLAlchemy, by statement.

Usage
  .venv/bin/python bench/statements.py [--db sqlite|postgres] [--runs 20]

An in-process app (the example project, httpx's ASGI transport) runs ``--runs`` runs of
the graph ``lg_echo`` two ways, after a warm-up: ``wait`` (POST /runs/wait, stateless)
and ``thread`` (POST /threads, POST /threads/{id}/runs, GET .../join). Every statement
SQLAlchemy sends to the driver is counted (its ``before_cursor_execute`` event), DBOS's
included. The statements marked ``store/db.py:direct()`` go to the driver (SQLite's, or
asyncpg through SQLAlchemy's adapter cursor) without SQLAlchemy's execution and are not
counted: the figure is what is left of SQLAlchemy's per-statement cost. Background loops (heartbeat, sweeps) fall into the counts too, as a
fraction of a statement per run.

Prints, for each way, the statements per run and the commonest ones, then one JSON
object last on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import tempfile
from pathlib import Path

import httpx
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
INPUT = {"messages": [{"role": "user", "content": "hi"}]}


def database_url(db: str) -> str:
    """A fresh database: a temp SQLite file, or Postgres's runplane_statements recreated."""
    if db == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp(prefix='runplane-stmts-')}/bench.db"
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "runplane_statements" WITH (FORCE)')
        conn.execute('CREATE DATABASE "runplane_statements"')
    return PG_URL.rsplit("/", 1)[0] + "/runplane_statements"


async def one_run(client: httpx.AsyncClient, way: str) -> None:
    """One run of lg_echo, stateless or on a new thread."""
    if way == "wait":
        r = await client.post("/runs/wait", json={"assistant_id": "lg_echo", "input": INPUT})
        r.raise_for_status()
        return
    thread = (await client.post("/threads", json={})).json()["thread_id"]
    body = {"assistant_id": "lg_echo", "input": INPUT}
    run = (await client.post(f"/threads/{thread}/runs", json=body)).json()
    (await client.get(f"/threads/{thread}/runs/{run['run_id']}/join")).raise_for_status()


async def measure(db: str, runs: int) -> dict[str, object]:
    """Statements per run of each way, and the commonest statements."""
    from runplane.app import create_app
    from runplane.services import auth
    from runplane.settings import Settings

    settings = Settings(
        database_url=database_url(db), project=REPO / "runplane.toml", executor_id="stmts"
    )
    app = create_app(settings)
    counts: collections.Counter[str] = collections.Counter()
    counting = False

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if counting:
            counts[" ".join(statement.split())[:110]] += 1

    out: dict[str, object] = {}
    async with app.router.lifespan_context(app):
        key = await auth.create_key(app.state.rt.db, "bench", None, "admin")
        headers = {"Authorization": f"Bearer {key}"}
        transport = httpx.ASGITransport(app=app)
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", seen)
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench", headers=headers
            ) as client:
                for way in ("wait", "thread"):
                    for _ in range(3):
                        await one_run(client, way)
                    await asyncio.sleep(1.0)
                    counts.clear()
                    counting = True
                    for _ in range(runs):
                        await one_run(client, way)
                    await asyncio.sleep(0.5)  # the run's last writes
                    counting = False
                    per_run = sum(counts.values()) / runs
                    top = {s: n / runs for s, n in counts.most_common(8)}
                    print(f"== {db} {way}: {per_run:.1f} statements per run", file=sys.stderr)
                    for statement, n in top.items():
                        print(f"  {n:5.2f}  {statement}", file=sys.stderr)
                    out[way] = {"statements_per_run": round(per_run, 2), "top": top}
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", seen)
    return out


def main() -> int:
    """Count and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    result = asyncio.run(measure(args.db, args.runs))
    print(json.dumps({"db": args.db, "runs": args.runs, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
