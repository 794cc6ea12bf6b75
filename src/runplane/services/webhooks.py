"""Lifecycle webhooks that are never lost: an outbox written with each move, and its deliverer.

Each move of a run that someone listens to (an endpoint of its tenant subscribed to the
event, or the run's own ``notify`` webhook) writes a row of ``webhook_deliveries`` in the
transaction of the move (``rows``): a move that rolls back sends nothing, one that
commits is sent, however often the server dies meanwhile. Every worker process drains the
outbox (``drain``): each row is sent through the outgoing-call fence (``runplane.outbound``),
signed as Standard Webhooks says with a ``webhook-id`` that never changes, tried again with
exponential backoff and jitter until ``webhook_retry_seconds`` have passed, and every try
is recorded. A run's events go to each target in order: one waits while an earlier one is
pending. A 410 stops the delivery and disables its endpoint; a refusal of the fence stops it.

A tenant's endpoints are kept in memory for ``webhook_endpoints_ttl`` seconds (and
forgotten at once when they change, in every process on Postgres): a tenant without
endpoints and a run without ``notify`` cost a move no query.
"""

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from runplane import outbound
from runplane.domain.errors import Invalid
from runplane.domain.events import ApprovalRequiredData
from runplane.domain.ids import new_id
from runplane.domain.json import JSONObject
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import (
    RunRecord,
    WebhookAttemptRecord,
    WebhookDeliveryRecord,
    WebhookEndpointRecord,
    iso,
    utcnow,
)
from runplane.engine.metrics import Metrics
from runplane.schemas.webhooks import sign_headers
from runplane.services.crypto import Keys
from runplane.services.webhook_secrets import signing_secrets
from runplane.settings import Settings
from runplane.store import runs as runs_store
from runplane.store import webhook_deliveries as outbox
from runplane.store import webhook_endpoints as endpoints_store
from runplane.store.db import Database
from runplane.store.retry import describe, is_transient

log = logging.getLogger("runplane.webhooks")
NOTIFY = "notify"  # the target of a run's own ``notify`` webhook
# What each move is called; a waiting run that moves back to running is ``run.resumed``.
EVENTS = (
    "run.queued",
    "run.started",
    "run.resumed",
    "run.paused",
    "run.auth_required",
    "run.succeeded",
    "run.failed",
    "run.canceled",
)


def event_name(status: RunStatus, *, resumed: bool = False) -> str:
    """The lifecycle event of a move to ``status``."""
    if status == RunStatus.RUNNING:
        return "run.resumed" if resumed else "run.started"
    return f"run.{status}"


CLAIM = 32  # deliveries claimed at once by one process
# A claimed delivery is leased this long (a send times out after 10 s): if its process
# dies mid-send, it is due again then, to whichever process polls first.
LEASE_SECONDS = outbound.DEFAULT_TIMEOUT + 5
RESPONSE_EXCERPT = 500
# Answers worth another try; any other non-2xx is final (410 also disables the endpoint).
_TRANSIENT = frozenset({408, 425, 429})

# Adds what a delivery to a run's own webhook carries besides its stored payload (the
# approval link, made at send time so that the outbox never holds one).
Enrich = Callable[[RunRecord, JSONObject], Awaitable[JSONObject]]


def check_webhook(settings: Settings, field: str, url: str | None) -> None:
    """Refuse, as a 422 naming ``field``, a webhook URL the fence would refuse anyway."""
    if not url:
        return
    try:
        outbound.check_url(outbound.Policy.from_settings(settings), url)
    except outbound.Refused as exc:
        # The URL is not echoed: webhook URLs often carry a secret.
        raise Invalid.field(field, f"{field} is refused: {exc.reason}") from None


def backoff(attempt: int, cap: float) -> float:
    """Seconds before try ``attempt + 1``: 1, 2, 4, … up to ``cap``, with jitter (½ to 1×)."""
    return min(cap, 2.0 ** min(attempt - 1, 30)) * (0.5 + random.random() / 2)  # noqa: S311


def _subscribed(events: Sequence[str], event: str) -> bool:
    return "*" in events or event in events


class Webhooks:
    """The outbox's writer side (``rows``) and its deliverer (``drain``), one per process."""

    def __init__(
        self, settings: Settings, db: Database, keys: Keys, enrich: Enrich | None = None
    ) -> None:
        self.settings = settings
        self.db = db
        self.keys = keys
        self.enrich = enrich
        self.resolver: outbound.Resolver = outbound.resolve
        # Drains started by a commit that wrote deliveries (tests wait for them to end).
        self.tasks: set[asyncio.Task[None]] = set()
        self._endpoints: dict[str, tuple[float, list[tuple[str, list[str]]]]] = {}
        self._again = False
        self.metrics: Metrics | None = None  # attempts are counted once recorded

    # -- the writer side -------------------------------------------------------------------

    def forget(self, tenant_id: str) -> None:
        """Drop the tenant's endpoints from memory (they changed)."""
        self._endpoints.pop(tenant_id, None)

    async def subscribed(self, tenant_id: str) -> list[tuple[str, list[str]]]:
        """The tenant's enabled endpoints as (id, events), from memory while fresh."""
        now = time.monotonic()
        held = self._endpoints.get(tenant_id)
        if held is not None and held[0] > now:
            return held[1]
        async with self.db.read() as conn:
            found = await endpoints_store.list_for_tenant(conn, tenant_id, enabled=True)
        subs = [(e["id"], list(e["events"])) for e in found]
        self._endpoints[tenant_id] = (now + self.settings.webhook_endpoints_ttl, subs)
        return subs

    async def rows(
        self,
        run: RunRecord,
        moved: Sequence[tuple[RunStatus, int]],
        approval: ApprovalRequiredData | None = None,
        *,
        resumed: bool = False,
    ) -> list[WebhookDeliveryRecord]:
        """The outbox rows that these moves of the run write (each at its event's position)."""
        notify_url = (run.get("notify") or {}).get("webhook")
        subs = await self.subscribed(run["tenant_id"])
        if not subs and not notify_url:
            return []
        now = utcnow()
        until = now + timedelta(seconds=self.settings.webhook_retry_seconds)
        made: list[WebhookDeliveryRecord] = []

        def add(target: str, event: str, position: int, payload: JSONObject) -> None:
            made.append(
                {
                    "id": new_id("msg"),
                    "tenant_id": run["tenant_id"],
                    "run_id": run["id"],
                    "target": target,
                    "event": event,
                    "payload": payload,
                    "position": position,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "retry_until": until,
                    "last_status_code": None,
                    "last_error": None,
                    "created_at": now,
                    "finished_at": None,
                }
            )

        for status, position in moved:
            event = event_name(status, resumed=resumed)
            body: JSONObject = {
                "event": event,
                "run_id": run["id"],
                "agent_id": run.get("agent_id"),
                "agent_name": run.get("agent_name"),
                "status": str(status),
                "at": iso(now),
            }
            error = run.get("error")
            if status == RunStatus.FAILED and isinstance(error, dict):
                body["error"] = {"code": error.get("code"), "message": error.get("message")}
            for endpoint_id, events in subs:
                if _subscribed(events, event):
                    add(endpoint_id, event, position, body)
            if not notify_url:
                continue
            if approval is not None and status in (RunStatus.PAUSED, RunStatus.AUTH_REQUIRED):
                announce: JSONObject = {
                    "event": "approval.required",
                    "run_id": run["id"],
                    "at": iso(now),
                    "approval": cast(JSONObject, dict(approval)),
                }
                add(NOTIFY, "approval.required", position, announce)
            if status.terminal:
                ended: JSONObject = {
                    "event": "run.finished",
                    "run_id": run["id"],
                    "at": iso(now),
                    "status": str(status),
                }
                add(NOTIFY, "run.finished", position, ended)
        return made

    # -- the deliverer ---------------------------------------------------------------------

    def kick(self) -> None:
        """Send what was just committed to the outbox now, not at the next poll."""
        if self.tasks:
            self._again = True  # the drain under way looks again before it ends
            return
        task = asyncio.get_running_loop().create_task(self._drain_logged())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _drain_logged(self) -> None:
        try:
            await self.drain()
        except Exception as exc:  # the next poll tries again
            if is_transient(exc):  # the database is out: one line, not a traceback
                log.warning("webhook delivery round failed (%s)", describe(exc))
            else:
                log.exception("webhook delivery round failed")

    async def drain(self) -> int:
        """Send every delivery due now, in order per run and target; return how many were tried."""
        tried = 0
        policy = outbound.Policy.from_settings(self.settings)
        async with outbound.async_client(policy, resolver=self.resolver) as client:
            while True:
                self._again = False
                async with self.db.write() as conn:
                    due = await outbox.claim_due(conn, utcnow(), LEASE_SECONDS, CLAIM)
                if not due:
                    if self._again:
                        continue
                    return tried
                # One round: endpoints and secrets read once, every answer recorded in one
                # transaction (a write per delivery would queue behind the runs' writes).
                known: dict[tuple[str, str], object] = {}
                done = await asyncio.gather(*(self._deliver(client, r, known) for r in due))
                await self._record(done)
                tried += len(due)

    async def _deliver(
        self,
        client: outbound.OutboundClient,
        row: WebhookDeliveryRecord,
        known: dict[tuple[str, str], object],
    ) -> "_Tried":
        """Try one delivery once; tell how it went."""
        about = {"run_id": row["run_id"], "tenant": row["tenant_id"], "event": row["event"]}
        number = row["attempts"] + 1
        extra = {**about, "attempt": number, "webhook_id": row["id"]}
        target = await self._target(row, known)
        started = time.monotonic()
        code: int | None = None
        excerpt: str | None = None
        error: str | None = None
        outcome = "retry"
        if isinstance(target, str):
            error, outcome = target, "failed"
        else:
            url, secrets, payload = target
            content = json.dumps(payload, separators=(",", ":"), default=str).encode()
            headers = {
                "content-type": "application/json",
                **sign_headers(secrets, row["id"], int(time.time()), content),
            }
            # The URL is never logged: webhook URLs often carry a secret.
            try:
                code, excerpt = await outbound.post_answer(
                    client, url, content, headers, RESPONSE_EXCERPT
                )
            except outbound.Refused as exc:
                log.warning("webhook refused, not sent: %s", exc.reason, extra=extra)
                error, outcome = f"refused: {exc.reason}", "failed"
            except outbound.OutboundError as exc:
                log.warning("webhook call failed (attempt %d): %s", number, exc, extra=extra)
                error = str(exc)
            else:
                outcome = self._judge(code, number, extra)
        attempt: WebhookAttemptRecord = {
            "delivery_id": row["id"],
            "number": number,
            "tenant_id": row["tenant_id"],
            "at": utcnow(),
            "status_code": code,
            "latency_ms": round((time.monotonic() - started) * 1000, 3),
            "response": excerpt,
            "error": error,
        }
        return _Tried(row, attempt, outcome)

    def _judge(self, code: int, number: int, extra: dict[str, object]) -> str:
        """What an answer means: delivered, gone (410), retry, or failed for good."""
        if 200 <= code < 300:
            return "delivered"
        if code == 410:
            log.warning("webhook answered 410: not sent again", extra=extra)
            return "gone"
        if code >= 500 or code in _TRANSIENT:
            log.warning("webhook answered %d (attempt %d)", code, number, extra=extra)
            return "retry"
        if 300 <= code < 400:
            log.warning("webhook answered %d: redirects are not followed", code, extra=extra)
        else:
            log.warning("webhook answered %d: not sent again", code, extra=extra)
        return "failed"

    async def _secrets(self, tenant: str, known: dict[tuple[str, str], object]) -> list[str]:
        """The tenant's signing secrets, read once a round."""
        if ("secrets", tenant) not in known:
            known["secrets", tenant] = await signing_secrets(self.db, self.keys, tenant)
        return cast(list[str], known["secrets", tenant])

    async def _target(
        self, row: WebhookDeliveryRecord, known: dict[tuple[str, str], object]
    ) -> tuple[str, list[str], JSONObject] | str:
        """The URL, secrets and body to send; or why there is nothing to send."""
        tenant, payload = row["tenant_id"], dict(row["payload"])
        if row["target"] == NOTIFY:
            async with self.db.read() as conn:
                run = await runs_store.get_run(conn, tenant, row["run_id"])
            url = (run["notify"] or {}).get("webhook") if run is not None else None
            if run is None or not url:
                return "the run is gone"
            if row["event"] == "approval.required" and self.enrich is not None:
                payload = await self.enrich(run, payload)
            secrets = await self._secrets(tenant, known)
        else:
            if ("endpoint", row["target"]) not in known:
                async with self.db.read() as conn:
                    found = await endpoints_store.get(conn, tenant, row["target"])
                known["endpoint", row["target"]] = found
            endpoint = cast(WebhookEndpointRecord | None, known["endpoint", row["target"]])
            if endpoint is None:
                return "the endpoint was deleted"
            if not endpoint["enabled"]:
                return "the endpoint is disabled"
            url = endpoint["url"]
            sealed = endpoint["secret"]
            opened = self.keys.open(sealed) if sealed else None
            secrets = [opened] if opened else await self._secrets(tenant, known)
        if not secrets:
            log.warning(
                "webhook not sent: its signing secret cannot be opened",
                extra={"run_id": row["run_id"], "tenant": tenant},
            )
            return "the signing secret cannot be opened"
        return url, secrets, payload

    async def _record(self, tried: Sequence["_Tried"]) -> None:
        """Keep the round's attempts; move each delivery on (delivered, failed, due again)."""
        now = utcnow()
        gone: set[tuple[str, str]] = set()
        counted: list[tuple[str, str | None]] = []
        async with self.db.write() as conn:
            for t in tried:
                row, number = t.row, t.attempt["number"]
                code, error = t.attempt["status_code"], t.attempt["error"]
                values: dict[str, object] = {
                    "attempts": number,
                    "last_status_code": code,
                    "last_error": error,
                }
                if t.outcome == "retry" and now < row["retry_until"]:
                    wait = backoff(number, self.settings.webhook_backoff_max_seconds)
                    values["next_attempt_at"] = min(
                        now + timedelta(seconds=wait), row["retry_until"]
                    )
                elif t.outcome == "delivered":
                    values.update(status="delivered", finished_at=now)
                else:
                    if t.outcome == "retry":
                        values["last_error"] = f"given up after {number} attempts: {error or code}"
                        log.warning(
                            "webhook given up after %d attempts",
                            number,
                            extra={"run_id": row["run_id"], "tenant": row["tenant_id"]},
                        )
                    values.update(status="failed", finished_at=now)
                final = values.get("status")
                counted.append((t.outcome, final if isinstance(final, str) else None))
                if t.outcome == "gone" and row["target"] != NOTIFY:
                    gone.add((row["tenant_id"], row["target"]))
                await outbox.record_attempt(conn, t.attempt, **values)
            for tenant, endpoint_id in gone:
                await endpoints_store.update(
                    conn,
                    tenant,
                    endpoint_id,
                    enabled=False,
                    disabled_reason="the receiver answered 410 Gone",
                    updated_at=now,
                )
        if self.metrics is not None:
            for outcome, ended in counted:
                self.metrics.webhook_attempt(outcome, ended)
        for tenant, _ in gone:
            self.forget(tenant)


@dataclass(frozen=True)
class _Tried:
    """One try of a delivery: the attempt to record, and what it means for the delivery."""

    row: WebhookDeliveryRecord
    attempt: WebhookAttemptRecord
    outcome: str  # delivered, retry, gone (410), failed


def due_again(now: datetime) -> dict[str, object]:
    """The columns that make a delivery pending again, due now (a redelivery)."""
    return {"status": "pending", "next_attempt_at": now, "finished_at": None}
