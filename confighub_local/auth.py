"""Bearer-token authentication: one admin token per server, worker secrets for worker routes.

The token comes from --token-file, else CONFIGHUB_TOKEN, else a generated one written (mode
0600) beside the database. Only a short prefix is ever logged.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import tempfile
from pathlib import Path

log = logging.getLogger("confighub_local")


def redact(token: str) -> str:
    return f"{token[:4]}…({len(token)} chars)"


def default_token_path(db_path: str, port: int) -> Path:
    if db_path == ":memory:":
        return Path(tempfile.gettempdir()) / f"confighub-local-{port}.token"
    return Path(db_path).with_name(Path(db_path).name + ".token")


def load_or_create_token(
    token_file: Path | None, db_path: str, port: int
) -> tuple[str, Path | None]:
    """Resolve the API token; return it and the file it came from or was written to."""
    if token_file is not None:
        token = token_file.read_text().strip()
        if not token:
            raise ValueError(f"token file {token_file} is empty")
        return token, token_file
    env = os.environ.get("CONFIGHUB_TOKEN", "").strip()
    if env:
        return env, None
    path = default_token_path(db_path, port)
    if path.exists() and path.read_text().strip():
        return path.read_text().strip(), path
    token = "chl_" + secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    os.chmod(path, 0o600)
    log.warning("generated API token %s written to %s", redact(token), path)
    return token, path


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
