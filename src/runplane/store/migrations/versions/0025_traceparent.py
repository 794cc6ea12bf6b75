"""traceparent: a run keeps the W3C trace context of the request that created it, so its
spans join that trace in whichever process executes (or resumes) it

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("traceparent", sa.String(55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("traceparent")
