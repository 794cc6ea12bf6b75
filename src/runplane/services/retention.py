"""The retention sweep: each tenant's policy applied to its runs, run fields, files,
activity and evidence exports, by the same rules as a delete (never a held run),
recorded in the activity log.

One process sweeps per interval (a claim in ``retention_sweeps``); each pass removes at
most ``retention_sweep_batch`` runs (files, activity rows) per tenant, a few runs per
transaction, so that no sweep holds a long transaction. A run's event log is kept whole
while the run exists (its hash chain covers it); field retention removes ``input``,
``result``, step outputs or files and records their hashes in the run's ``redacted``.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from runplane.domain.json import JSON, JSONObject
from runplane.domain.models import RunRecord, iso, utcnow
from runplane.schemas.governance import GovernancePolicy
from runplane.services import audit, evidence
from runplane.services.governance_policy import policy_at
from runplane.services.legal_holds import held_by
from runplane.services.run_deletion import content_hash, drop_unused_blobs, erase_run
from runplane.services.runtime import Runtime
from runplane.store import files as files_store
from runplane.store import governance as store
from runplane.store import runs as runs_store
from runplane.store import tombstones
from runplane.store.db import Conn

log = logging.getLogger("runplane.retention")
SWEEP = "retention"
# Runs removed per transaction: short transactions, few round trips.
PER_TRANSACTION = 20
# Run ids named in a sweep's activity row, at most.
NAMED_RUNS = 100


@dataclass
class Swept:
    """What one sweep removed from one tenant."""

    runs: list[str] = field(default_factory=list)
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: int = 0
    activity: int = 0
    exports: int = 0

    def empty(self) -> bool:
        """Whether nothing was removed."""
        counts = (self.files, self.activity, self.exports)
        return not (self.runs or any(self.fields.values()) or any(counts))

    def summary(self, version: int) -> JSONObject:
        """The activity row's data: counts, and the run ids (capped)."""
        return {
            "policy_version": version,
            "runs_deleted": len(self.runs),
            "run_ids": list(self.runs[:NAMED_RUNS]),
            "fields_removed": {k: len(v) for k, v in self.fields.items() if v},
            "fields_run_ids": {k: list(v[:NAMED_RUNS]) for k, v in self.fields.items() if v},
            "files_deleted": self.files,
            "activity_deleted": self.activity,
            "exports_deleted": self.exports,
        }


async def sweep_if_due(rt: Runtime, owner: str) -> dict[str, Swept] | None:
    """Sweep if no process has within the interval (None: another one has)."""
    every = timedelta(seconds=rt.settings.retention_sweep_seconds)
    async with rt.db.write() as conn:
        if not await store.claim_sweep(conn, SWEEP, owner, utcnow(), every):
            return None
    return await sweep(rt)


async def sweep(rt: Runtime, now: datetime | None = None) -> dict[str, Swept]:
    """Apply every tenant's policy in force once; what was removed, per tenant."""
    now = now or utcnow()
    async with rt.db.read() as conn:
        tenants = await store.tenants_with_policies(conn)
    done: dict[str, Swept] = {}
    for tenant_id, version in tenants:
        async with rt.db.read() as conn:
            policy = await policy_at(conn, tenant_id, version)
        swept = await sweep_tenant(rt, tenant_id, version, policy, now)
        if not swept.empty():
            async with rt.db.write() as conn:
                await audit.record(
                    conn,
                    audit.system(tenant_id),
                    "retention.swept",
                    "policy",
                    str(version),
                    swept.summary(version),
                )
            log.info("retention swept tenant %s: %s", tenant_id, swept.summary(version))
        done[tenant_id] = swept
    return done


async def sweep_tenant(
    rt: Runtime, tenant_id: str, version: int, policy: GovernancePolicy, now: datetime
) -> Swept:
    """Apply one tenant's policy: runs, then run fields, files, activity, exports."""
    swept = Swept()
    budget = rt.settings.retention_sweep_batch
    retention = policy.retention
    if retention.runs.days is not None:
        cutoff = now - timedelta(days=retention.runs.days)
        reason = f"retention: runs are kept {retention.runs.days} days (policy version {version})"
        swept.runs = await _sweep_runs(rt, tenant_id, cutoff, reason, budget, now)
    for name, days in retention.runs.fields.items():
        swept.fields[name] = await _sweep_field(
            rt, tenant_id, name, now - timedelta(days=days), version, budget, now
        )
    if retention.files.days is not None:
        cutoff = now - timedelta(days=retention.files.days)
        swept.files = await _sweep_files(rt, tenant_id, cutoff, budget)
    if retention.activity.days is not None:
        cutoff = now - timedelta(days=retention.activity.days)
        async with rt.db.write() as conn:
            swept.activity = await store.delete_activity_before(conn, tenant_id, cutoff, budget)
    if retention.exports.days is not None:
        cutoff = now - timedelta(days=retention.exports.days)
        swept.exports = await evidence.drop_exports_before(rt, tenant_id, cutoff, budget)
    return swept


async def _unheld(conn: Conn, tenant_id: str, run_id: str) -> RunRecord | None:
    """The run, read again in the removing transaction, unless it is gone or held."""
    run = await runs_store.get_run(conn, tenant_id, run_id)
    if run is None or await held_by(conn, tenant_id, run):
        return None
    return run


# What the sweep does to one unheld run, in the removing transaction: the sha256 of the
# blobs it may have freed, or None when the run needs nothing (already redacted).
Act = Callable[[Conn, RunRecord], Awaitable[list[str] | None]]


async def _apply(rt: Runtime, tenant_id: str, cutoff: datetime, budget: int, act: Act) -> list[str]:
    """Apply ``act`` to the tenant's unheld ended runs created before ``cutoff``, oldest
    first, a few per transaction; the ids of the runs it changed (at most ``budget``)."""
    done: list[str] = []
    after: tuple[datetime, str] | None = None
    scanned = 0
    # Held (or already redacted) runs are passed over: the scan is bounded too.
    while len(done) < budget and scanned < budget * 4:
        async with rt.db.read() as conn:
            page = await tombstones.ended_before(
                conn, tenant_id, cutoff, limit=PER_TRANSACTION, after=after
            )
        if not page:
            break
        scanned += len(page)
        after = (page[-1]["created_at"], page[-1]["id"])
        shas: list[str] = []
        async with rt.db.write() as conn:
            for candidate in page:
                run = await _unheld(conn, tenant_id, candidate["id"])
                if run is None or len(done) >= budget:
                    continue
                freed = await act(conn, run)
                if freed is not None:
                    shas += freed
                    done.append(run["id"])
        await drop_unused_blobs(rt, tenant_id, shas)
    return done


async def _sweep_runs(
    rt: Runtime, tenant_id: str, cutoff: datetime, reason: str, budget: int, now: datetime
) -> list[str]:
    async def delete(conn: Conn, run: RunRecord) -> list[str]:
        tomb, shas = await erase_run(conn, run, "retention", reason, now)
        data: JSONObject = {"reason": reason, "tombstone": {"last_hash": tomb["last_hash"]}}
        await audit.record(conn, audit.system(tenant_id), "run.deleted", "run", run["id"], data)
        return shas

    return await _apply(rt, tenant_id, cutoff, budget, delete)


async def _redact(conn: Conn, run: RunRecord, name: str, version: int, now: datetime) -> list[str]:
    """Remove one field's content from a run, recording its hash; the files' blobs' sha256."""
    shas: list[str] = []
    if name in ("input", "result"):
        digest: JSON = content_hash(cast(JSON, run[name]))  # type: ignore[literal-required]
        await runs_store.update_run(conn, run["id"], **{name: None})
    elif name == "step_outputs":
        digest = {
            str(s["number"]): content_hash(s["output"])
            for s in await runs_store.list_steps(conn, run["id"])
        }
        await runs_store.clear_step_outputs(conn, run["id"])
    else:
        files = await files_store.of_runs(conn, run["tenant_id"], [run["id"]])
        digest = {f["id"]: f["sha256"] for f in files}
        shas = [f["sha256"] for f in files]
        await files_store.delete_of_run(conn, run["tenant_id"], run["id"])
    redacted = dict(run.get("redacted") or {})
    redacted[name] = {"sha256": digest, "at": iso(now), "policy_version": version}
    await runs_store.update_run(conn, run["id"], redacted=redacted)
    return shas


async def _sweep_field(
    rt: Runtime,
    tenant_id: str,
    name: str,
    cutoff: datetime,
    version: int,
    budget: int,
    now: datetime,
) -> list[str]:
    async def remove(conn: Conn, run: RunRecord) -> list[str] | None:
        if name in (run.get("redacted") or {}):
            return None
        return await _redact(conn, run, name, version, now)

    return await _apply(rt, tenant_id, cutoff, budget, remove)


async def _sweep_files(rt: Runtime, tenant_id: str, cutoff: datetime, budget: int) -> int:
    """Remove files older than ``cutoff`` that no run still going needs and no hold keeps."""
    shas: list[str] = []
    async with rt.db.write() as conn:
        candidates = await files_store.older_unheld(conn, tenant_id, cutoff, budget)
        read_by_live = await files_store.runs_with_inputs(conn, tenant_id)
        needed = {f for _, file_ids, _ in read_by_live for f in file_ids}
        sites = {s for _, _, site_ids in read_by_live for s in site_ids}
        for f in candidates:
            if f["id"] in needed or (f["site_id"] is not None and f["site_id"] in sites):
                continue
            if f["run_id"] is not None:
                run = await runs_store.get_run(conn, tenant_id, f["run_id"])
                if run is not None and (
                    await files_store.run_active(conn, tenant_id, f["run_id"])
                    or await held_by(conn, tenant_id, run)
                ):
                    continue
            await files_store.delete(conn, tenant_id, f["id"])
            shas.append(f["sha256"])
    await drop_unused_blobs(rt, tenant_id, shas)
    return len(shas)
