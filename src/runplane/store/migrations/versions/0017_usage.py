"""usage: model calls' tokens and credits on steps, runs' totals and budgets, budgets table

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("steps") as batch:
        batch.add_column(sa.Column("reasoning_effort", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("input_tokens", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("output_tokens", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("cached_tokens", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reasoning_tokens", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("credits", sa.Float(), nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("usage", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("credits_estimated", sa.Float(), nullable=True))
        batch.add_column(sa.Column("credits_actual", sa.Float(), nullable=True))
        batch.add_column(sa.Column("budget", sa.JSON(), nullable=True))
    op.create_table(
        "budgets",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("credits", sa.Float(), nullable=True),
        sa.Column("tokens", sa.BigInteger(), nullable=True),
        sa.Column("hard_credits", sa.Float(), nullable=True),
        sa.Column("hard_tokens", sa.BigInteger(), nullable=True),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "scope", "target"),
    )


def downgrade() -> None:
    op.drop_table("budgets")
    with op.batch_alter_table("runs") as batch:
        for name in ("budget", "credits_actual", "credits_estimated", "usage"):
            batch.drop_column(name)
    with op.batch_alter_table("steps") as batch:
        for name in (
            "credits",
            "reasoning_tokens",
            "cached_tokens",
            "output_tokens",
            "input_tokens",
            "reasoning_effort",
        ):
            batch.drop_column(name)
