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
from runplane.client._sync import Client

__all__ = [
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "GoneError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RunplaneAPIError",
    "RunplaneClientError",
    "RunplaneConnectionError",
    "SSEParser",
    "ServerError",
    "ValidationError",
]
