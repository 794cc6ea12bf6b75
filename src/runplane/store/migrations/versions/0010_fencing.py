"""fencing: each run's owner (executor id) and epoch; a stale owner's writes are refused

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(200), nullable=True))
        batch_op.add_column(sa.Column("epoch", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index("ix_runs_owner", ["owner"])


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_owner")
        batch_op.drop_column("epoch")
        batch_op.drop_column("owner")
