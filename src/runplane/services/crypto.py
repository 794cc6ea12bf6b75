"""The server's secrets: the key that signs approval links and the one that seals credentials.

Both come from settings; when ``secret_key`` is unset a random one is created once and
kept beside the database (SQLite) or in ``.runplane/`` (Postgres), mode 0600, so a
single machine works out of the box. Several machines must share ``RUNPLANE_SECRET_KEY`` (and
``RUNPLANE_ENCRYPTION_KEY`` if set).
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, cast

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from runplane.domain.errors import BadRequest, Gone
from runplane.settings import MIN_SECRET_BYTES, Settings
from runplane.store.dialect import (
    PRIVATE_FILE_MODE,
    is_sqlite,
    make_private_dir,
    make_private_file,
    sqlite_path,
)

SECRET_FILE = "secret.key"
# How long a process waits for a secret file another process is still writing.
SECRET_WAIT_SECONDS = 5.0


class LinkPayload(TypedDict):
    """What an approval link's token carries: the approval, its tenant, its expiry, a nonce."""

    a: str
    t: str
    e: int
    n: str


def data_dir(settings: Settings) -> Path:
    """Where this process keeps local files: beside the SQLite file, else ``.runplane/``."""
    if is_sqlite(settings.database_url):
        return sqlite_path(settings.database_url).parent
    return Path(".runplane")


def _server_secret(settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode()  # its length is checked by Settings
    return load_or_create_secret(data_dir(settings) / SECRET_FILE)


def load_or_create_secret(path: Path, wait: float = SECRET_WAIT_SECONDS) -> bytes:
    """The secret kept in ``path``, made there first if missing: every process gets the same.

    A new secret is written whole to a private file of its own, then linked to ``path``;
    linking fails when the name exists, so of processes starting together exactly one
    secret wins, and no process ever reads a half-written one. A file that stays empty
    or short (``wait`` seconds: an older runplane may be writing it) is refused.
    """
    make_private_dir(path.parent)
    deadline = time.monotonic() + wait
    while True:
        secret = _read_secret(path)
        if secret is None:
            _publish_secret(path)
            secret = _read_secret(path)
        if secret is not None and len(secret) >= MIN_SECRET_BYTES:
            make_private_file(path)  # one written by an older version may be readable by all
            return secret
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{path} holds no usable secret (empty or shorter than {MIN_SECRET_BYTES} "
                "bytes): delete it to make a new one (approval links signed with the old "
                "one stop working), or set RUNPLANE_SECRET_KEY"
            )
        time.sleep(0.02)


def _read_secret(path: Path) -> bytes | None:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        return None


def _publish_secret(path: Path) -> None:
    """Put a new random secret at ``path`` unless another process has put one there."""
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_urlsafe(32).encode())
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process was first: its secret is everyone's
        except OSError:
            _create_in_place(path)  # no hard links on this filesystem
    finally:
        draft.unlink(missing_ok=True)


def _create_in_place(path: Path) -> None:
    # Readers may see the file before it is written: they wait until it is whole.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_urlsafe(32).encode())


def _derive(secret: bytes, purpose: str) -> bytes:
    return hashlib.sha256(purpose.encode() + b"\0" + secret).digest()


@dataclass
class Keys:
    """The signing key for approval links and the Fernet for credentials."""

    signing: bytes
    fernet: MultiFernet

    @classmethod
    def from_settings(cls, settings: Settings) -> "Keys":
        """Load or create the keys a process uses."""
        secret = _server_secret(settings)
        if settings.encryption_key:
            keys = [Fernet(k.strip()) for k in settings.encryption_key.split(",") if k.strip()]
        else:
            keys = [Fernet(base64.urlsafe_b64encode(_derive(secret, "credentials")))]
        return cls(signing=_derive(secret, "approval-links"), fernet=MultiFernet(keys))

    def seal(self, plaintext: str) -> str:
        """Encrypt a credential for storage."""
        return self.fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str | None:
        """Decrypt a stored credential (None if no current key opens it)."""
        try:
            return self.fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            return None

    def sign_link(self, approval_id: str, tenant_id: str, expires_at: float) -> str:
        """A single-use token naming one approval, valid until ``expires_at`` (epoch s)."""
        payload = {
            "a": approval_id,
            "t": tenant_id,
            "e": int(expires_at),
            "n": secrets.token_hex(8),
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{_b64(self._mac(body))}"

    def read_link(self, token: str) -> LinkPayload:
        """The payload of a token this server signed; 400 if forged, 410 if expired."""
        body, _, mac = token.partition(".")
        try:
            good = hmac.compare_digest(_unb64(mac), self._mac(body))
            payload = json.loads(_unb64(body)) if good else None
        except (ValueError, TypeError):
            payload = None
        if not isinstance(payload, dict) or not {"a", "t", "e"} <= payload.keys():
            raise BadRequest(
                "the approval link is not one this server signed",
                [{"name": "token", "value": None}],
            )
        if payload["e"] < time.time():
            raise Gone("the approval link has expired", [{"name": "token", "value": None}])
        return cast(LinkPayload, payload)

    def _mac(self, body: str) -> bytes:
        return hmac.new(self.signing, body.encode(), hashlib.sha256).digest()


def token_hash(token: str) -> str:
    """What is stored of a link token: enough to recognise it, not to use it."""
    return hashlib.sha256(token.encode()).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
