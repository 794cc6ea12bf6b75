"""The Python client of a runplane server, sync (``Client``) and async (``AsyncClient``)."""

from runplane.client._async import AsyncClient
from runplane.client._base import SSEParser
from runplane.client._errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GoneError,
    NotFoundError,
    PayloadTooLargeError,
    RunplaneAPIError,
    RunplaneClientError,
    RunplaneConnectionError,
    ServerError,
    ValidationError,
)
from runplane.client._retry import RetryNote
from runplane.client._sync import Client
from runplane.schemas.evidence import Verdict
from runplane.schemas.evidence import verify_bundle as verify_evidence
from runplane.schemas.webhooks import WebhookVerificationError, verify_webhook

__all__ = [
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "GoneError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RetryNote",
    "RunplaneAPIError",
    "RunplaneClientError",
    "RunplaneConnectionError",
    "SSEParser",
    "ServerError",
    "ValidationError",
    "Verdict",
    "WebhookVerificationError",
    "verify_evidence",
    "verify_webhook",
]
