"""hosts: the executor of each run, and stream parts relayed between nodes

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("executor_id", sa.String(200), nullable=True))
    op.create_table(
        "stream_parts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("stream_parts") as batch_op:
        batch_op.create_index("ix_stream_parts_run", ["run_id", "id"], unique=False)
        batch_op.create_index("ix_stream_parts_at", ["at"], unique=False)


def downgrade() -> None:
    op.drop_table("stream_parts")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("executor_id")
