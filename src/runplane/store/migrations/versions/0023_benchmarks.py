"""benchmarks: benchmarks and their cases, suite runs and scored results; a run's replay
source; an agent's A/B split

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("replay_of", sa.String(length=40), nullable=True))
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("split", sa.JSON(), nullable=True))
    op.create_table(
        "benchmarks",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("scorers", sa.JSON(), nullable=False),
        sa.Column("on_completion", sa.JSON(), nullable=True),
        sa.Column("gate", sa.JSON(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "agent_id", "name", name="uq_benchmarks_agent_name"),
    )
    op.create_table(
        "benchmark_cases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("benchmark_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("input", sa.JSON(), nullable=True),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("expected", sa.JSON(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("file_ids", sa.JSON(), nullable=True),
        sa.Column("source_run_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_benchmark_cases_benchmark",
        "benchmark_cases",
        ["tenant_id", "benchmark_id", "created_at", "id"],
    )
    op.create_table(
        "benchmark_suites",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=False),
        sa.Column("revision_id", sa.String(length=40), nullable=False),
        sa.Column("benchmark_id", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("scorers", sa.JSON(), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("case_count", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("created_by_key_id", sa.String(length=64), nullable=True),
        sa.Column("cancel_requested_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_benchmark_suites_agent",
        "benchmark_suites",
        ["tenant_id", "agent_id", "created_at", "id"],
    )
    op.create_index("ix_benchmark_suites_status", "benchmark_suites", ["status"])
    op.create_table(
        "benchmark_results",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=False),
        sa.Column("revision_id", sa.String(length=40), nullable=False),
        sa.Column("benchmark_id", sa.String(length=40), nullable=True),
        sa.Column("suite_id", sa.String(length=40), nullable=True),
        sa.Column("case_id", sa.String(length=40), nullable=True),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.Column("reference_run_id", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("credits", sa.Float(), nullable=True),
        sa.Column("diff", sa.JSON(), nullable=True),
        sa.Column("divergences", sa.JSON(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("scored_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_benchmark_results_agent",
        "benchmark_results",
        ["tenant_id", "agent_id", "created_at", "id"],
    )
    op.create_index("ix_benchmark_results_suite", "benchmark_results", ["suite_id"])
    op.create_index("ix_benchmark_results_run", "benchmark_results", ["run_id"])


def downgrade() -> None:
    op.drop_table("benchmark_results")
    op.drop_table("benchmark_suites")
    op.drop_table("benchmark_cases")
    op.drop_table("benchmarks")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("split")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("replay_of")
