"""The tenant's governance policy: versions, the one in force, and changing it (audited).

Version 1 is the built-in default (``GovernancePolicy()``), never stored; each change
stores the next version and makes it the one in force, in one transaction with its
audit row. Runs record the version in force when they are created (store/runs.py).
"""

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from runplane.domain.errors import Conflict, Invalid, NotFound
from runplane.domain.holds import aware
from runplane.domain.json import JSONObject
from runplane.domain.models import Principal, utcnow
from runplane.domain.roles import Permission
from runplane.schemas.governance import GovernancePolicy
from runplane.services import audit
from runplane.services.runtime import Runtime
from runplane.store import governance as store
from runplane.store.db import Conn

DEFAULT_VERSION = 1

PolicyVersion = dict[str, Any]


def document_of(raw: JSONObject | None) -> GovernancePolicy:
    """A stored document as the policy (None: the default)."""
    return GovernancePolicy() if raw is None else GovernancePolicy.model_validate(raw)


async def policy_at(conn: Conn, tenant_id: str, version: int) -> GovernancePolicy:
    """The policy document of one version (1: the default); the default if not stored."""
    if version == DEFAULT_VERSION:
        return GovernancePolicy()
    return document_of(await store.get_policy(conn, tenant_id, version))


async def policy_in_force(conn: Conn, tenant_id: str) -> tuple[int, GovernancePolicy]:
    """The version in force now and its document."""
    version = await store.current_version(conn, tenant_id)
    return version, await policy_at(conn, tenant_id, version)


def check_coherent(policy: GovernancePolicy) -> None:
    """Refuse a policy that contradicts itself, naming the field path that is wrong."""
    runs = policy.retention.runs
    for field, days in runs.fields.items():
        if runs.days is not None and days > runs.days:
            raise Invalid.field(
                f"retention.runs.fields.{field}",
                f"the run field {field!r} is kept {days} days, longer than its runs"
                f" (retention.runs.days = {runs.days})",
                days,
            )
    for name in ("files", "activity", "exports"):
        if getattr(policy.retention, name).fields:
            raise Invalid.field(
                f"retention.{name}.fields",
                "field retention applies to runs only (retention.runs.fields)",
                dict(getattr(policy.retention, name).fields),
            )
    names: set[str] = set()
    for i, hold in enumerate(policy.holds):
        if hold.name in names:
            raise Invalid.field(f"holds[{i}].name", f"two standing holds are named {hold.name!r}")
        names.add(hold.name)
        after, before = aware(hold.created_after), aware(hold.created_before)
        if after is not None and before is not None and after >= before:
            raise Invalid.field(
                f"holds[{i}].created_after",
                f"hold {hold.name!r} matches runs created after {after.isoformat()} and"
                f" before {before.isoformat()}: no run can be both",
                after.isoformat(),
            )
        if runs.days is not None and hold.keep_days > runs.days:
            raise Invalid.field(
                "retention.runs.days",
                f"runs are kept {runs.days} days, but the standing hold {hold.name!r} keeps"
                f" its runs {hold.keep_days} days (holds[{i}].keep_days): a retention shorter"
                " than a legal hold contradicts it",
                runs.days,
            )


def _version_public(
    version: int,
    document: GovernancePolicy,
    created_at: datetime,
    key_id: str | None,
    comment: str | None,
) -> PolicyVersion:
    return {
        "version": version,
        "document": document.model_dump(mode="json"),
        "created_at": created_at,
        "created_by_key_id": key_id,
        "comment": comment,
    }


async def _version(conn: Conn, tenant_id: str, version: int) -> PolicyVersion | None:
    if version == DEFAULT_VERSION:
        at = await store.tenant_created_at(conn, tenant_id)
        return _version_public(version, GovernancePolicy(), at, None, "the built-in default")
    row = await store.get_version(conn, tenant_id, version)
    if row is None:
        return None
    return _version_public(
        version,
        document_of(row["document"]),
        row["created_at"],
        row["created_by_key_id"],
        row["comment"],
    )


async def get_policy(rt: Runtime, who: Principal) -> PolicyVersion:
    """The version in force, with its document, who made it, when and why."""
    who.require(Permission.READ)
    async with rt.db.read() as conn:
        version = await store.current_version(conn, who.tenant_id)
        found = await _version(conn, who.tenant_id, version)
    assert found is not None, "the version in force is stored"
    return found


async def get_version(rt: Runtime, who: Principal, version: int) -> PolicyVersion:
    """One version of the tenant's policy, or NotFound."""
    who.require(Permission.READ)
    async with rt.db.read() as conn:
        found = await _version(conn, who.tenant_id, version)
    if found is None:
        raise NotFound(f"no policy version {version}", [{"name": "version", "value": version}])
    return found


async def list_versions(
    rt: Runtime, who: Principal, limit: int, before: int | None
) -> tuple[list[PolicyVersion], int | None]:
    """A page of versions newest first (the default, version 1, last); the next ``before``."""
    who.require(Permission.READ)
    async with rt.db.read() as conn:
        rows = await store.list_versions(conn, who.tenant_id, limit=limit, before=before)
        items = [
            _version_public(
                r["version"],
                document_of(r["document"]),
                r["created_at"],
                r["created_by_key_id"],
                r["comment"],
            )
            for r in rows
        ]
        if len(items) <= limit and (before is None or before > DEFAULT_VERSION):
            default = await _version(conn, who.tenant_id, DEFAULT_VERSION)
            assert default is not None
            items.append(default)
    if len(items) > limit:
        return items[:limit], int(items[limit - 1]["version"])
    return items, None


def parse_document(raw: object) -> GovernancePolicy:
    """A policy document from JSON, or Invalid naming the first wrong field's path."""
    try:
        return GovernancePolicy.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in first["loc"]).replace(
            ".[", "["
        )
        message = f"{path}: {first['msg']}" if path else str(first["msg"])
        raise Invalid.field(path or "document", message, first.get("input")) from None


async def set_policy(
    rt: Runtime,
    who: Principal,
    document: GovernancePolicy,
    comment: str | None,
    base_version: int | None = None,
) -> PolicyVersion:
    """Store a new version and put it in force (admin); audited with the old and new."""
    who.require(Permission.GOVERN)
    check_coherent(document)
    now = utcnow()
    new = document.model_dump(mode="json")
    try:
        async with rt.db.write() as conn:
            current, old = await policy_in_force(conn, who.tenant_id)
            if base_version is not None and base_version != current:
                raise Conflict(
                    f"the policy is at version {current}, not {base_version}: read it and"
                    " make your change on it",
                    [{"name": "base_version", "value": base_version}],
                )
            version = current + 1
            await store.insert_policy(conn, who.tenant_id, version, new, comment, now, who.key_id)
            await audit.record(
                conn,
                who,
                "policy.updated",
                "policy",
                str(version),
                {"from": old.model_dump(mode="json"), "to": new, "comment": comment},
            )
    except IntegrityError:
        raise Conflict(
            "another change of the policy was saved at the same time: read it and try again",
            [{"name": "version", "value": version}],
        ) from None
    return _version_public(version, document, now, who.key_id, comment)
