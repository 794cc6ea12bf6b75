"""The typed records the store returns have exactly the columns of their tables."""

import pytest
import sqlalchemy as sa

from runplane.domain import models
from runplane.store import schema

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only

RECORDS = [
    (models.RunRecord, schema.runs),
    (models.StepRow, schema.steps),
    (models.BudgetRecord, schema.budgets),
    (models.EventRecord, schema.events),
    (models.ApprovalRecord, schema.approvals),
    (models.AgentRecord, schema.agents),
    (models.RevisionRecord, schema.revisions),
    (models.TenantRecord, schema.tenants),
    (models.ApiKeyRecord, schema.api_keys),
    (models.IdempotencyRecord, schema.idempotency_keys),
    (models.ConnectionRecord, schema.connections),
    (models.ToolDocument, schema.tool_records),
    (models.AssistantRecord, schema.assistants),
    (models.AssistantVersionRecord, schema.assistant_versions),
    (models.ThreadRecord, schema.threads),
    (models.CronRecord, schema.crons),
    (models.WebhookSecretRecord, schema.webhook_secrets),
    (models.AuditEventRecord, schema.audit_events),
    (models.CustomerIntegrationRecord, schema.customer_integrations),
    (models.SiteRecord, schema.sites),
    (models.FileRecord, schema.files),
    (models.TriggerRecord, schema.triggers),
    (models.WebhookEndpointRecord, schema.webhook_endpoints),
    (models.WebhookDeliveryRecord, schema.webhook_deliveries),
    (models.WebhookAttemptRecord, schema.webhook_attempts),
    (models.TenantModelRecord, schema.tenant_models),
    (models.ModelProviderRecord, schema.model_providers),
    (models.SigningKeyRecord, schema.signing_keys),
    (models.EvidenceExportRecord, schema.evidence_exports),
    (models.BenchmarkRecord, schema.benchmarks),
    (models.BenchmarkCaseRecord, schema.benchmark_cases),
    (models.BenchmarkSuiteRecord, schema.benchmark_suites),
    (models.BenchmarkResultRecord, schema.benchmark_results),
]


def keys(record: type) -> set[str]:
    return set(record.__required_keys__) | set(record.__optional_keys__)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("record", "table"), RECORDS, ids=[t.name for _, t in RECORDS])
def test_each_record_has_every_column_of_its_table_and_nothing_else(
    record: type, table: sa.Table
) -> None:
    assert keys(record) == {c.name for c in table.columns}


def test_a_new_approval_names_only_columns_of_approvals() -> None:
    assert keys(models.NewApproval) <= {c.name for c in schema.approvals.columns}


def test_every_table_with_rows_read_whole_has_a_record() -> None:
    # Tables read only by a few columns or as counters have none.
    unread = {"executors", "rate_buckets", "stream_parts", "blobs", "retention_sweeps"}
    # Issue 16's tables: each branch that reads one whole gives it a record here.
    unread |= {
        "governance_policies",
        "legal_holds",
        "run_tombstones",
        "deletion_requests",
    }
    assert {t.name for _, t in RECORDS} == set(schema.metadata.tables) - unread
