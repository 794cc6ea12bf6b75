"""policy: what the retention sweep removed from a run that is kept (its fields' hashes),
the claim that lets one process sweep per interval, and a tombstone's agent name

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("redacted", sa.JSON(), nullable=True))
    with op.batch_alter_table("run_tombstones") as batch:
        batch.add_column(sa.Column("agent_name", sa.String(length=200), nullable=True))
    op.create_table(
        "retention_sweeps",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("retention_sweeps")
    with op.batch_alter_table("run_tombstones") as batch:
        batch.drop_column("agent_name")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("redacted")
