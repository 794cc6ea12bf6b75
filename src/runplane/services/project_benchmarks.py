"""The project's benchmarks (``benchmarks = [...]`` in ``runplane.toml``), made for each
tenant with its code agents: created when absent (by agent and name), never overwritten,
so a tenant's own changes to them stay."""

import json
import logging
from datetime import timedelta
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from runplane.domain.ids import new_id
from runplane.domain.json import JSONObject
from runplane.domain.models import BenchmarkCaseRecord, BenchmarkRecord, utcnow
from runplane.domain.scoring import load_python_scorer
from runplane.schemas.benchmarks import BenchmarkCreate, CaseCreate
from runplane.store import agents as agents_store
from runplane.store import benchmarks as store
from runplane.store.db import Database

log = logging.getLogger("runplane.benchmarks")


def read_benchmark(path: Path) -> tuple[BenchmarkCreate, list[CaseCreate]]:
    """A benchmark file: the benchmark and its cases (ValueError if it is not one)."""
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds no JSON object")
    cases = [CaseCreate.model_validate(c) for c in data.pop("cases", None) or []]
    return BenchmarkCreate.model_validate(data), cases


async def ensure_project_benchmarks(db: Database, paths: list[Path], tenant_id: str) -> None:
    """Create the project's benchmarks the tenant lacks (a bad file is logged, skipped)."""
    for path in paths:
        try:
            bench, cases = read_benchmark(path)
            for s in bench.scorers:
                if s.type == "python":
                    load_python_scorer(s.path)
        except (OSError, ValueError, ValidationError) as exc:
            log.warning("benchmark file %s skipped: %s", path, exc)
            continue
        try:
            await _create(db, tenant_id, bench, cases)
        except IntegrityError:
            continue  # another process made it at the same moment


async def _create(
    db: Database, tenant_id: str, bench: BenchmarkCreate, cases: list[CaseCreate]
) -> None:
    now = utcnow()
    async with db.write() as conn:
        agent = await agents_store.find_agent(conn, tenant_id, bench.agent_id)
        if agent is None or await store.find(conn, tenant_id, agent["id"], bench.name):
            return
        scorers: list[JSONObject] = [
            s.model_dump(mode="json", by_alias=True, exclude_none=True) for s in bench.scorers
        ]
        row: BenchmarkRecord = {
            "id": new_id("bch"),
            "tenant_id": tenant_id,
            "agent_id": agent["id"],
            "name": bench.name,
            "description": bench.description,
            "scorers": scorers,
            "on_completion": bench.on_completion.model_dump() if bench.on_completion else None,
            "gate": bench.gate.model_dump() if bench.gate else None,
            "created_at": now,
            "updated_at": now,
        }
        await store.insert(conn, row)
        for i, case in enumerate(cases):
            case_id = new_id("bcs")
            made: BenchmarkCaseRecord = {
                "id": case_id,
                "tenant_id": tenant_id,
                "benchmark_id": row["id"],
                "name": case.name or case_id,
                "input": case.input,
                "variables": case.variables,
                "expected": case.expected,
                "tags": case.tags,
                "file_ids": case.file_ids,
                "source_run_id": None,
                "created_at": now + timedelta(microseconds=i),  # keeps the file's order
            }
            await store.insert_case(conn, made)
