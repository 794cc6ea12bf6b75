"""governance: policy versions, actor attribution, legal holds, tombstones, deletion
requests, evidence exports and signing keys

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("policy_version", sa.Integer(), nullable=True))
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(
            sa.Column("actor_type", sa.String(length=20), nullable=False, server_default="api")
        )
        batch.add_column(sa.Column("actor_role", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("actor_user_id", sa.String(length=200), nullable=True))
    op.create_index(
        "ix_audit_events_tenant_target", "audit_events", ["tenant_id", "target_type", "target_id"]
    )
    op.create_table(
        "governance_policies",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by_key_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "version"),
    )
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.Column("agent_id", sa.String(length=40), nullable=True),
        sa.Column("query", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by_key_id", sa.String(length=64), nullable=True),
        sa.Column("released_at", TS, nullable=True),
        sa.Column("released_by_key_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_legal_holds_tenant", "legal_holds", ["tenant_id", "released_at"])
    op.create_table(
        "run_tombstones",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=False),
        sa.Column("revision_id", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("hashes", sa.JSON(), nullable=False),
        sa.Column("deleted_at", TS, nullable=False),
        sa.Column("deleted_by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_index("ix_run_tombstones_tenant", "run_tombstones", ["tenant_id", "deleted_at"])
    op.create_table(
        "deletion_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("requested_by_key_id", sa.String(length=64), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decided_by_key_id", sa.String(length=64), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_deletion_requests_tenant", "deletion_requests", ["tenant_id", "status"])
    op.create_table(
        "evidence_exports",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("query", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("runs_total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("runs_done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("bytes", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("signing_key_id", sa.String(length=40), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("heartbeat_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by_key_id", sa.String(length=64), nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_evidence_exports_tenant", "evidence_exports", ["tenant_id", "created_at"])
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("algorithm", sa.String(length=20), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("retired_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signing_keys_tenant", "signing_keys", ["tenant_id", "retired_at"])


def downgrade() -> None:
    for table in (
        "signing_keys",
        "evidence_exports",
        "deletion_requests",
        "run_tombstones",
        "legal_holds",
        "governance_policies",
    ):
        op.drop_table(table)
    op.drop_index("ix_audit_events_tenant_target", table_name="audit_events")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("actor_user_id")
        batch.drop_column("actor_role")
        batch.drop_column("actor_type")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("policy_version")
