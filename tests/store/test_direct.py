"""Statements marked ``store/db.py:direct()`` behave as SQLAlchemy's own execution does.

On either database a marked statement skips SQLAlchemy's per-statement machinery; what it
stores, what it reads back and the errors it raises must not change.
"""

from datetime import datetime

import pytest
import sqlalchemy as sa
from tests.store.test_status_writer import queued_run

from runplane.domain.ids import new_id
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import NewEvent, utcnow
from runplane.services.runtime import Runtime
from runplane.store import runs as store
from runplane.store.db import _Direct, direct
from runplane.store.runs import Chain, Move
from runplane.store.schema import runs, tenants

# Marked here as the store marks its own: a module constant.
_INSERT_TENANT = direct(tenants.insert())


async def test_a_run_read_directly_equals_the_run_read_through_sqlalchemy(rt: Runtime) -> None:
    run = await queued_run(rt)
    async with rt.db.write() as conn:
        await store.move_run(
            conn,
            run["id"],
            Chain(run["last_seq"], run["last_hash"]),
            run["status"],
            before=Move(RunStatus.RUNNING),
            new_events=[NewEvent("note", {"k": ["v", 1]}, utcnow())],
            fields={"started_at": utcnow(), "metadata": {"k": ["v", 1]}},
        )
    async with rt.db.read() as conn:
        fast = await store.get_run(conn, run["tenant_id"], run["id"])
        plain = (
            (await conn.execute(sa.select(runs).where(runs.c.id == run["id"]), {})).mappings().one()
        )
    assert fast is not None
    assert _Direct.of(store._GET_TENANT_RUN, {"run_id": "", "tenant_id": ""}, conn.dialect)
    assert fast == dict(plain)
    assert fast["metadata"] == {"k": ["v", 1]}
    assert isinstance(fast["started_at"], datetime) and fast["started_at"].tzinfo is not None


async def test_a_constraint_broken_by_a_marked_statement_is_sqlalchemys_integrity_error(
    rt: Runtime,
) -> None:
    row = {"id": new_id("t"), "name": new_id("n"), "created_at": utcnow()}
    async with rt.db.write() as conn:
        assert _Direct.of(_INSERT_TENANT, row, conn.dialect) is not None
        await conn.execute(_INSERT_TENANT, row)
    with pytest.raises(sa.exc.IntegrityError):
        async with rt.db.write() as conn:
            await conn.execute(_INSERT_TENANT, {**row, "name": new_id("n")})
    # The failed transaction was rolled back whole; the connection is usable again.
    async with rt.db.read() as conn:
        found = await conn.execute(sa.select(tenants.c.name).where(tenants.c.id == row["id"]))
        assert found.scalar_one() == row["name"]


async def test_marked_writes_commit_with_the_transaction_and_roll_back_with_it(
    rt: Runtime,
) -> None:
    kept = {"id": new_id("t"), "name": new_id("n"), "created_at": utcnow()}
    dropped = {"id": new_id("t"), "name": new_id("n"), "created_at": utcnow()}
    async with rt.db.write() as conn:
        await conn.execute(_INSERT_TENANT, kept)
    with pytest.raises(RuntimeError):
        async with rt.db.write() as conn:
            await conn.execute(_INSERT_TENANT, dropped)
            raise RuntimeError("abandon the transaction")
    async with rt.db.read() as conn:
        ids = {kept["id"], dropped["id"]}
        found = await conn.execute(sa.select(tenants.c.id).where(tenants.c.id.in_(ids)))
        assert set(found.scalars().all()) == {kept["id"]}
