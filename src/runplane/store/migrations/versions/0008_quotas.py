"""quotas: per-tenant limit overrides; runs held for admission or scheduled to start later

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_running", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("max_queued", sa.Integer(), nullable=True))
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_runs_tenant_admission", ["tenant_id", "status", "admitted_at"], unique=False
        )
    # Every run recorded before quotas existed was handed to the engine when it was made.
    op.execute("UPDATE runs SET admitted_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_tenant_admission")
        batch_op.drop_column("not_before")
        batch_op.drop_column("admitted_at")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("max_queued")
        batch_op.drop_column("max_running")
