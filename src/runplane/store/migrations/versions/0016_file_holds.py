"""file holds: a legal hold on a file (reason, who, when) keeps it from being deleted

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.add_column(sa.Column("hold_reason", sa.String(length=1000), nullable=True))
        batch.add_column(sa.Column("hold_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hold_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.drop_column("hold_at")
        batch.drop_column("hold_by")
        batch.drop_column("hold_reason")
