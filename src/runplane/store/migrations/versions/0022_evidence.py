"""evidence: at most one active signing key per tenant

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Two first exports at once each make a key: the second insert finds this index.
    op.create_index(
        "uq_signing_keys_active",
        "signing_keys",
        ["tenant_id"],
        unique=True,
        sqlite_where=sa.text("retired_at IS NULL"),
        postgresql_where=sa.text("retired_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_signing_keys_active", table_name="signing_keys")
