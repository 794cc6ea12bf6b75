"""approval links: who started a run, who decided an approval and how, revocable links

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by_key_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decided_by_key_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("decided_via", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("link_sealed", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("link_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("link_revoked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.drop_column("link_revoked_at")
        batch_op.drop_column("link_expires_at")
        batch_op.drop_column("link_sealed")
        batch_op.drop_column("decided_via")
        batch_op.drop_column("decided_by_key_id")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("created_by_key_id")
