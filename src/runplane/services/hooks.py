"""The services' side of a run's life, handed to the worker (``engine.ports.RunHooks``)."""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from runplane.agents.registry import Project
from runplane.domain.events import ApprovalRequiredData
from runplane.domain.ids import new_id
from runplane.domain.models import NewApproval, RunRecord, iso
from runplane.engine.governance import Gate
from runplane.engine.outcome import ApprovalAsk
from runplane.providers import ModelProvider
from runplane.services.crypto import Keys, token_hash
from runplane.services.tooling import ToolGate
from runplane.services.webhooks import Webhooks
from runplane.settings import Settings
from runplane.store.db import Database


def approval_link(base_url: str, token: str) -> str:
    """The URL a person opens to see and decide an approval."""
    return f"{base_url}/v1/runs/approval?token={token}"


class ServiceHooks:
    """Tool gates, approval links and webhooks for the worker's runs."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        keys: Keys,
        project: Project,
        provider: ModelProvider | None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.keys = keys
        self.project = project
        self.provider = provider
        self.webhooks = Webhooks()

    def gate(self, run: RunRecord) -> Gate:
        """What the run's tool calls reach outside the run."""
        return ToolGate(self.db, self.keys, self.project.tools, self.provider, run)

    def notify(self, run: RunRecord, event: str, data: Mapping[str, object]) -> None:
        """Tell the run's ``notify`` webhook, in the background."""
        self.webhooks.send(run, event, data)

    def new_approval(
        self, run: RunRecord, asked: ApprovalAsk, now: datetime
    ) -> tuple[NewApproval, ApprovalRequiredData]:
        """The approval row for a wait, and the ``approval.required`` event data."""
        approval_id = new_id("apr")
        expiry = run["approval_expiry"]
        seconds = expiry.get("seconds") if expiry else None
        expires_at = now + timedelta(seconds=seconds) if seconds else None
        link_until = now.timestamp() + self.settings.approval_link_ttl
        if expires_at is not None:
            link_until = min(link_until, expires_at.timestamp())
        token = self.keys.sign_link(approval_id, run["tenant_id"], link_until)
        row: NewApproval = {
            "id": approval_id,
            "tenant_id": run["tenant_id"],
            "run_id": run["id"],
            "key": asked["key"],
            "kind": asked["kind"],
            "status": "pending",
            "request": asked["request"],
            "expires_at": expires_at,
            "default_action": expiry.get("default_action") if expiry and expires_at else None,
            "token_hash": token_hash(token),
            "created_at": now,
        }
        data: ApprovalRequiredData = {
            "approval_id": approval_id,
            "kind": asked["kind"],
            "request": asked["request"],
            "link": approval_link(self.settings.base_url, token),
            "link_expires_at": iso(datetime.fromtimestamp(link_until, UTC)),
            "expires_at": iso(expires_at) if expires_at else None,
            "default_action": row["default_action"],
        }
        return row, data
