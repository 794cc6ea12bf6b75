"""The services' side of a run's life, handed to the worker (``engine.ports.RunHooks``)."""

import functools
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from runplane.agents.registry import Project
from runplane.domain.deciders import starter_may_decide
from runplane.domain.events import ApprovalRequiredData
from runplane.domain.ids import new_id
from runplane.domain.json import JSON, JSONObject
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import (
    ApprovalRecord,
    NewApproval,
    RunRecord,
    WebhookDeliveryRecord,
    iso,
    utcnow,
)
from runplane.engine.governance import Gate
from runplane.engine.metering import Prices
from runplane.engine.outcome import ApprovalAsk
from runplane.outbound import Policy
from runplane.providers import ModelProvider, retry_policy
from runplane.services.crypto import Keys, token_hash
from runplane.services.model_routing import ModelRouter
from runplane.services.tooling import ToolGate
from runplane.services.webhooks import Webhooks
from runplane.settings import Settings
from runplane.store import approvals as approvals_store
from runplane.store import tenants as tenants_store
from runplane.store.db import Database

LINK_PAGE = "/console/approval-link"
# Starts a child run: (parent, agent, input, idempotency key) -> its id.
StartChild = Callable[[RunRecord, str, JSON, str], Awaitable[str]]


def approval_link(base_url: str, token: str) -> str:
    """The URL a person opens to see and decide an approval.

    The token is the URL's fragment: browsers never send a fragment to a server, so it
    stays out of access logs, proxies and ``Referer``; the page posts it in a body.
    """
    return f"{base_url}{LINK_PAGE}#{token}"


def live_link(keys: Keys, base_url: str, approval: ApprovalRecord) -> str | None:
    """The approval's current link, if it is pending and its link not revoked or expired."""
    token = live_token(keys, approval)
    return None if token is None else approval_link(base_url, token)


def live_token(keys: Keys, approval: ApprovalRecord) -> str | None:
    """The token of the approval's current link, if it is pending and its link still works."""
    sealed, until = approval["link_sealed"], approval["link_expires_at"]
    if approval["status"] != "pending" or sealed is None or approval["link_revoked_at"]:
        return None
    if approval["token_used_at"] is not None or (until is not None and until <= utcnow()):
        return None
    return keys.open(sealed)


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
        # Each model call's provider: the tenant's own, else the server's, else offline.
        self.models = ModelRouter(
            db,
            keys,
            provider,
            policy=Policy.from_settings(settings),
            retry=retry_policy(settings),
            timeout=settings.model_timeout,
        )
        self.webhooks = Webhooks(settings, db, keys, enrich=self._with_link)
        # Set once the runtime exists (``services/process.py``): creating runs needs it.
        self.children: StartChild | None = None

    def gate(self, run: RunRecord) -> Gate:
        """What the run's tool calls reach outside the run."""
        return ToolGate(self.db, self.keys, self.project.tools, self.provider, run, self.models)

    def prices(self, run: RunRecord) -> Prices:
        """How the run's model calls are priced: the tenant's catalogue, as the router keeps it
        (edits through the API forget it at once; another process's within seconds)."""
        return functools.partial(self.models.model_info, run["tenant_id"])

    async def lifecycle(
        self,
        run: RunRecord,
        moved: Sequence[tuple[RunStatus, int]],
        approval: ApprovalRequiredData | None = None,
        *,
        resumed: bool = False,
    ) -> list[WebhookDeliveryRecord]:
        """The webhook outbox rows that these moves of the run write with them."""
        return await self.webhooks.rows(run, moved, approval, resumed=resumed)

    async def start_child(self, parent: RunRecord, agent: str, input: JSON, key: str) -> str:
        """Start (or find, by ``key``) a child run of ``parent``; its id."""
        assert self.children is not None, "the runtime sets ServiceHooks.children"
        return await self.children(parent, agent, input, key)

    def delivered_soon(self) -> None:
        """Send what was just committed to the webhook outbox now."""
        self.webhooks.kick()

    async def _with_link(self, run: RunRecord, body: JSONObject) -> JSONObject:
        """``approval.required`` with its link when the run's starter may decide it.

        The webhook's address was chosen by whoever started the run: handing it the link
        of a run its starter may not decide would let that key decide it after all.
        """
        announced = body.get("approval")
        approval_id = announced.get("approval_id") if isinstance(announced, dict) else None
        if not isinstance(approval_id, str) or not isinstance(announced, dict):
            return body
        async with self.db.read() as conn:
            approval = await approvals_store.get_approval(conn, run["tenant_id"], approval_id)
            starter = run["created_by_key_id"]
            key = await tenants_store.get_key(conn, run["tenant_id"], starter) if starter else None
        role = key["role"] if key is not None and key["revoked_at"] is None else None
        allow_self = self.settings.allow_self_approval
        link = None
        if approval is not None and starter_may_decide(role, allow_self=allow_self):
            link = live_link(self.keys, self.settings.base_url, approval)
        if link is None:
            return body
        return {**body, "approval": {**announced, "link": link}}

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
            "link_sealed": self.keys.seal(token),
            "link_expires_at": datetime.fromtimestamp(link_until, UTC),
            "created_at": now,
        }
        data: ApprovalRequiredData = {
            "approval_id": approval_id,
            "kind": asked["kind"],
            "request": asked["request"],
            "link_expires_at": iso(datetime.fromtimestamp(link_until, UTC)),
            "expires_at": iso(expires_at) if expires_at else None,
            "default_action": row["default_action"],
        }
        return row, data
