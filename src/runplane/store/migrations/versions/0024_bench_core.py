"""bench_core: a scored result keeps the item it ran (input, variables, reference), so a
suite resumed by another process after a crash can start the cases not yet started

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("benchmark_results") as batch:
        batch.add_column(sa.Column("item", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("benchmark_results") as batch:
        batch.drop_column("item")
