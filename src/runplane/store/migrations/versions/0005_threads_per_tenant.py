"""threads per tenant

A thread is known by its tenant and its id together (callers choose thread ids, so two
tenants may use the same one); langgraph's checkpoints of a thread are kept under
``"{tenant_id}:{thread_id}"`` (``graphs/tenant_saver.py``), and the checkpoints made
before this revision are moved there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# langgraph's saver tables that key rows by thread_id (SQLite: checkpoints, writes;
# Postgres: checkpoints, checkpoint_blobs, checkpoint_writes). They exist only once a
# server with graphs has started, so each is moved only if it is there.
_SAVER_TABLES = ("checkpoints", "writes", "checkpoint_blobs", "checkpoint_writes")


def _saver_tables() -> list[str]:
    inspector = sa.inspect(op.get_bind())
    present = set(inspector.get_table_names())
    return [
        t
        for t in _SAVER_TABLES
        if t in present and "thread_id" in {c["name"] for c in inspector.get_columns(t)}
    ]


def _threads(primary_key: list[str]) -> sa.Table:
    """The threads table as 0003 made it, with this primary key (SQLite rebuilds it so)."""
    return sa.Table(
        "threads",
        sa.MetaData(),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=True),
        sa.Column("interrupts", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(*primary_key, name="threads_pkey"),
        sa.Index("ix_threads_tenant_created", "tenant_id", "created_at"),
    )


def _set_threads_key(primary_key: list[str]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("threads", copy_from=_threads(primary_key), recreate="always"):
            pass
        return
    op.drop_constraint("threads_pkey", "threads", type_="primary")
    op.create_primary_key("threads_pkey", "threads", primary_key)


def upgrade() -> None:
    # Before the key widens, a thread id names one thread: its checkpoints are its tenant's.
    for table in _saver_tables():
        op.execute(
            f"UPDATE {table} SET thread_id = ("
            "SELECT threads.tenant_id || ':' || threads.id FROM threads "
            f"WHERE threads.id = {table}.thread_id) "
            "WHERE thread_id IN (SELECT id FROM threads)"
        )
    _set_threads_key(["id", "tenant_id"])
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_thread")
        batch_op.create_index("ix_runs_thread", ["tenant_id", "thread_id", "created_at"])


def downgrade() -> None:
    # Fails if two tenants hold a thread of the same id: one of them must go first.
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_thread")
        batch_op.create_index("ix_runs_thread", ["thread_id", "created_at"])
    _set_threads_key(["id"])
    for table in _saver_tables():
        op.execute(
            f"UPDATE {table} SET thread_id = ("
            "SELECT threads.id FROM threads "
            f"WHERE threads.tenant_id || ':' || threads.id = {table}.thread_id) "
            "WHERE thread_id IN (SELECT tenant_id || ':' || id FROM threads)"
        )
