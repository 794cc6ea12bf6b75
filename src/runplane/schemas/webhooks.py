"""Standard Webhooks signatures (https://www.standardwebhooks.com), shared by server and client.

The server signs each webhook body with the tenant's secret; a receiver checks it with
``verify_webhook`` (exported by ``runplane.client``). The signed content is
``"{webhook-id}.{webhook-timestamp}.{body}"``; the signature header holds one or more
space-separated ``v1,<base64 HMAC-SHA256>`` entries (several while a rotated secret is
still honoured).
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SECRET_PREFIX = "whsec_"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
DEFAULT_TOLERANCE = 300  # seconds a timestamp may be off, either way


class WebhookVerificationError(ValueError):
    """A webhook whose signature, timestamp or headers do not check out."""


class WebhookSecretPublic(BaseModel):
    """The tenant's new webhook signing secret: shown once, when it is made."""

    secret: str
    created_at: str
    previous_valid_until: str | None = None


class WebhookSecretRotate(BaseModel):
    """The body of ``POST /v1/webhook-secret``: how long the old secret still signs."""

    model_config = ConfigDict(extra="forbid")

    grace_seconds: int | None = Field(default=None, ge=0, le=7 * 24 * 3600)


def new_secret() -> str:
    """A fresh signing secret, ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        raise WebhookVerificationError("the webhook secret is not a whsec_… secret") from None


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of a body under one secret."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def sign_headers(
    secrets_: Iterable[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, with one signature per secret."""
    signatures = " ".join(signature(s, msg_id, timestamp, body) for s in secrets_)
    return {ID_HEADER: msg_id, TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signatures}


def verify_webhook(
    payload: bytes,
    headers: Mapping[str, str],
    secret: str,
    tolerance: float = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """Check a webhook's signature and timestamp, and return its decoded JSON body.

    Raises ``WebhookVerificationError`` when a header is missing, the timestamp is more
    than ``tolerance`` seconds away from now (a replay), or no signature matches.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, signed = (
        lower.get(ID_HEADER),
        lower.get(TIMESTAMP_HEADER),
        lower.get(SIGNATURE_HEADER),
    )
    if not msg_id or not stamp or not signed:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a number") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is too old or too far in the future")
    expected = signature(secret, msg_id, timestamp, payload).encode()
    for given in signed.split():
        if given.startswith("v1,") and hmac.compare_digest(given.encode(), expected):
            return _decoded(payload)
    raise WebhookVerificationError("no webhook-signature matches the secret")


def _decoded(payload: bytes) -> dict[str, Any]:
    try:
        body = json.loads(payload)
    except ValueError:
        raise WebhookVerificationError("the webhook body is not JSON") from None
    if not isinstance(body, dict):
        raise WebhookVerificationError("the webhook body is not a JSON object")
    return body
