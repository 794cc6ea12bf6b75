"""Migration 0005: threads keyed by tenant and id; older checkpoints move under the tenant."""

from collections.abc import Callable

import sqlalchemy as sa
from alembic import command

from runplane.store import migrate
from runplane.store.dialect import sync_url


def test_checkpoints_made_before_0005_move_under_their_threads_tenant_and_back(
    new_database: Callable[[str], str],
) -> None:
    url = new_database("thr")
    engine = sa.create_engine(sync_url(url))
    cfg = migrate._config()

    def to(revision: str, up: bool = True) -> None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            (command.upgrade if up else command.downgrade)(cfg, revision)

    def checkpoints() -> list[tuple[str, str]]:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT thread_id, checkpoint_id FROM checkpoints ORDER BY checkpoint_id"
            )
            return [(r[0], r[1]) for r in rows]

    try:
        to("0004")
        with engine.begin() as conn:
            # langgraph's saver table as it was: keyed by the bare thread id.
            conn.exec_driver_sql("CREATE TABLE checkpoints (thread_id TEXT, checkpoint_id TEXT)")
            conn.exec_driver_sql(
                "INSERT INTO threads (id, tenant_id, status, metadata, interrupts, created_at, "
                "updated_at) VALUES ('support-42', 'ten_A', 'idle', '{}', '{}', "
                "'2026-01-01', '2026-01-01')"
            )
            conn.exec_driver_sql(
                "INSERT INTO checkpoints VALUES ('support-42', 'c1'), ('no-thread', 'c2')"
            )
        to("0005")
        assert checkpoints() == [("ten_A:support-42", "c1"), ("no-thread", "c2")]
        with engine.connect() as conn:
            key = sa.inspect(conn).get_pk_constraint("threads")["constrained_columns"]
        assert sorted(key) == ["id", "tenant_id"]

        to("0004", up=False)
        assert checkpoints() == [("support-42", "c1"), ("no-thread", "c2")]
    finally:
        engine.dispose()
