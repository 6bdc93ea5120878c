"""Bridge worker secrets: generated once, readable again by the admin (`cub worker get-secret`,
`get-envs`, `run` read it from GET/list of the worker), never stored in plain text.

The database holds a SHA-256 hash (checked on every worker request, so authentication needs no
key) and the secret sealed with AES-GCM under a server key. The key is 32 random bytes kept in
its own file (mode 0600) beside the database and token, `<db>.key`; a `:memory:` database gets a
key that lives only in the process, like the data. Losing the key file leaves workers able to
authenticate (the hash) but their secrets unreadable: re-create the worker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger("confighub_local")

PRIVATE_FIELDS = frozenset({"Secret", "SecretHash", "SecretSealed"})
_KEY_BYTES = 32
_NONCE_BYTES = 12


def new_secret() -> tuple[str, str]:
    """(secret, hash)."""
    secret = secrets.token_urlsafe(32)
    return secret, digest(secret)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, worker: dict[str, Any]) -> bool:
    stored = worker.get("SecretHash")
    return bool(stored) and hmac.compare_digest(digest(secret), str(stored))


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """The worker as returned where its secret does not belong (lists of related entities,
    the worker's own /me)."""
    return {k: v for k, v in doc.items() if k not in PRIVATE_FIELDS}


def key_path(db_path: str) -> Path | None:
    if db_path == ":memory:":
        return None
    return Path(db_path).with_name(Path(db_path).name + ".key")


class SecretBox:
    """Seals and opens worker secrets with the server key (AES-256-GCM, the worker ID as
    associated data so a sealed secret cannot be moved to another worker)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise ValueError(f"server key must be {_KEY_BYTES} bytes, got {len(key)}")
        self._aead = AESGCM(key)

    @classmethod
    def for_db(cls, db_path: str) -> SecretBox:
        """Load the key beside the database, creating it (0600) on first start."""
        path = key_path(db_path)
        if path is None:
            return cls(AESGCM.generate_key(bit_length=256))
        if path.exists():
            raw = path.read_bytes().strip()
            try:
                key = base64.b64decode(raw, validate=True)
            except ValueError:
                raise ValueError(f"server key file {path} is not base64") from None
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)
            return cls(key)
        key = AESGCM.generate_key(bit_length=256)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(base64.b64encode(key) + b"\n")
        log.info("generated the worker-secret key %s", path)
        return cls(key)

    def seal(self, worker_id: str, secret: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode(), worker_id.encode())
        return base64.b64encode(nonce + sealed).decode()

    def open(self, worker_id: str, sealed: str) -> str | None:
        """The secret, or None when it cannot be opened (another key, tampered data)."""
        try:
            raw = base64.b64decode(sealed)
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], worker_id.encode())
        except (ValueError, InvalidTag):
            return None
        return plain.decode()

    def secret_of(self, worker: dict[str, Any]) -> str | None:
        sealed = worker.get("SecretSealed")
        if not sealed:
            return None
        return self.open(str(worker.get("BridgeWorkerID", "")), str(sealed))

    def revealed(self, worker: dict[str, Any]) -> dict[str, Any]:
        """The worker as its owner (the admin token) reads it: with `Secret`, as the CLI
        expects; a worker whose secret cannot be opened is returned without one."""
        out = public(worker)
        secret = self.secret_of(worker)
        if secret is not None:
            out["Secret"] = secret
        return out

    def issue(self, worker: dict[str, Any]) -> str:
        """A new secret for the worker: stores hash and sealed copy in the doc, returns it."""
        secret, hashed = new_secret()
        worker["SecretHash"] = hashed
        worker["SecretSealed"] = self.seal(str(worker["BridgeWorkerID"]), secret)
        return secret


def box(extras: dict[str, Any]) -> SecretBox:
    found = extras.get("secret_box")
    if not isinstance(found, SecretBox):
        raise RuntimeError("the server's secret key is not loaded")
    return found
