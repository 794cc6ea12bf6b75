"""Each tenant's webhook signing secret: made on first need, sealed at rest, rotatable.

A rotation answers the new secret once (it is never shown again). For a grace period
(``grace_seconds``, default a day) webhooks carry a signature under the old secret too,
so receivers can switch without losing a delivery; ``grace_seconds=0`` cuts it at once.
"""

from datetime import datetime, timedelta

import sqlalchemy as sa

from runplane.domain.json import JSONObject
from runplane.domain.models import Principal, WebhookSecretRecord, iso, utcnow
from runplane.domain.roles import Permission
from runplane.schemas.webhooks import WebhookSecretPublic, new_secret
from runplane.services import audit
from runplane.services.crypto import Keys
from runplane.store import webhook_secrets as store
from runplane.store.db import Database

DEFAULT_GRACE_SECONDS = 24 * 3600


async def signing_secrets(db: Database, keys: Keys, tenant_id: str) -> list[str]:
    """The secrets this tenant's webhooks are signed with: the current one first, then the
    one it replaced while its grace lasts. The first secret is made here, on first need."""
    async with db.read() as conn:
        row = await store.get(conn, tenant_id)
    if row is None:
        row = await _first_secret(db, keys, tenant_id)
    found = [keys.open(row["secret"])]
    until = row["previous_valid_until"]
    if row["previous_secret"] and until is not None and until > utcnow():
        found.append(keys.open(row["previous_secret"]))
    return [s for s in found if s]


async def _first_secret(db: Database, keys: Keys, tenant_id: str) -> WebhookSecretRecord:
    row: WebhookSecretRecord = {
        "tenant_id": tenant_id,
        "secret": keys.seal(new_secret()),
        "previous_secret": None,
        "previous_valid_until": None,
        "created_at": utcnow(),
    }
    try:
        async with db.write() as conn:
            await store.insert(conn, row)
        return row
    except sa.exc.IntegrityError:
        # Another process made it first: theirs is the one.
        async with db.read() as conn:
            theirs = await store.get(conn, tenant_id)
        assert theirs is not None
        return theirs


async def rotate(
    db: Database, keys: Keys, who: Principal, grace_seconds: int | None
) -> WebhookSecretPublic:
    """Make a new signing secret for the caller's tenant and show it, this once (admin only)."""
    who.require(Permission.MANAGE_KEYS)
    grace = DEFAULT_GRACE_SECONDS if grace_seconds is None else grace_seconds
    now = utcnow()
    secret = new_secret()
    async with db.write() as conn:
        old = await store.get(conn, who.tenant_id)
        keep_old = old is not None and grace > 0
        until: datetime | None = now + timedelta(seconds=grace) if keep_old else None
        row: WebhookSecretRecord = {
            "tenant_id": who.tenant_id,
            "secret": keys.seal(secret),
            "previous_secret": old["secret"] if old is not None and keep_old else None,
            "previous_valid_until": until,
            "created_at": now,
        }
        if old is None:
            await store.insert(conn, row)
        else:
            await store.replace(conn, row)
        noted: JSONObject = {"previous_valid_until": iso(until) if until else None}
        await audit.record(conn, who, "webhook_secret.rotated", "webhook_secret", None, noted)
    return WebhookSecretPublic(
        secret=secret, created_at=iso(now), previous_valid_until=iso(until) if until else None
    )
