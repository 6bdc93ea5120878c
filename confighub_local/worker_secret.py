"""Bridge worker secrets: generated once, returned only in the creating response, stored only
as a SHA-256 hash (the secret never sits in plain text in the database)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

PRIVATE_FIELDS = frozenset({"Secret", "SecretHash"})


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
    return {k: v for k, v in doc.items() if k not in PRIVATE_FIELDS}
