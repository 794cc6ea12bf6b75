"""executor budgets: each live process's database connection budget, host and role

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("executors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("db_connections", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("host", sa.String(200), nullable=True))
        batch_op.add_column(sa.Column("role", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("executors", schema=None) as batch_op:
        batch_op.drop_column("role")
        batch_op.drop_column("host")
        batch_op.drop_column("db_connections")
