"""triggers: schedules and signed webhooks that start runs; runs record their trigger

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "triggers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("agent_id", sa.String(length=40), nullable=False),
        sa.Column("revision_id", sa.String(length=40), nullable=True),
        sa.Column("input", sa.JSON(), nullable=True),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("created_by_key_id", sa.String(length=64), nullable=True),
        sa.Column("schedule", sa.String(length=200), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("catch_up", sa.String(length=10), nullable=True),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("next_fire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("mapping", sa.JSON(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("last_run_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("triggers") as batch_op:
        batch_op.create_index(
            "ix_triggers_tenant_created", ["tenant_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_triggers_due", ["enabled", "paused", "next_fire_at"], unique=False
        )
    with op.batch_alter_table("runs") as batch_op:
        batch_op.add_column(sa.Column("trigger_id", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_column("trigger_id")
    with op.batch_alter_table("triggers") as batch_op:
        batch_op.drop_index("ix_triggers_due")
        batch_op.drop_index("ix_triggers_tenant_created")
    op.drop_table("triggers")
