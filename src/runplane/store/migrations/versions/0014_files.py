"""sites and files: uploads into sites, runs' artifacts, their blobs; runs' inputs

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_sites_tenant_name"),
    )
    op.create_index("ix_sites_tenant_created", "sites", ["tenant_id", "created_at", "id"])
    op.create_table(
        "files",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("site_id", sa.String(length=40), nullable=True),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "step", "name", name="uq_files_run_step_name"),
    )
    op.create_index("ix_files_tenant_created", "files", ["tenant_id", "created_at", "id"])
    op.create_index("ix_files_site", "files", ["tenant_id", "site_id", "created_at"])
    op.create_index("ix_files_sha", "files", ["tenant_id", "sha256"])
    op.create_table(
        "blobs",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("file_ids", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("site_ids", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("site_ids")
        batch_op.drop_column("file_ids")
    op.drop_table("blobs")
    op.drop_index("ix_files_sha", table_name="files")
    op.drop_index("ix_files_site", table_name="files")
    op.drop_index("ix_files_tenant_created", table_name="files")
    op.drop_table("files")
    op.drop_index("ix_sites_tenant_created", table_name="sites")
    op.drop_table("sites")
