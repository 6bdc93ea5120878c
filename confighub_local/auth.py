"""Bearer-token authentication: one admin token per server, worker secrets for worker routes.

The token comes from --token-file, else CONFIGHUB_TOKEN, else a generated one written (mode
0600) beside the database. Only a short prefix is ever logged.

Which files are trusted (private_files.py does the safe opening):
- `--token-file F` is the user's own choice: read it (a missing one is created exclusively with
  a generated token), but refuse one that others could have written (not owned by this user,
  or group/other-writable).
- The generated `<db>.token` is reused only when it is exactly the file this server wrote for
  this database: a private regular file whose SHA-256 the database records. Anything else at
  that path (planted by someone, a symlink, an older version's file) is replaced atomically.
- With `--db :memory:` nothing outlives the process, so the token is new on every start and is
  written to `memory-<port>.token` in this user's private runtime directory (never /tmp).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path
from typing import Protocol

from confighub_local.private_files import (
    UnsafeFile,
    create_exclusive,
    private_dir,
    problem,
    read_trusted,
    replace_private,
)

log = logging.getLogger("confighub_local")


def redact(token: str) -> str:
    return f"{token[:4]}…({len(token)} chars)"


class Meta(Protocol):
    """The store's key-value table (where the token's hash is kept)."""

    def meta_get(self, key: str) -> str | None: ...

    def meta_set(self, key: str, value: str) -> None: ...


_HASH_KEY = "token_file_sha256"


def runtime_dir() -> Path:
    """This user's private directory for files of throwaway (`:memory:`) servers."""
    base = os.environ.get("XDG_RUNTIME_DIR") or os.environ.get("XDG_STATE_HOME")
    root = Path(base) if base else Path.home() / ".local" / "state"
    return private_dir(root / "confighub-local")


def default_token_path(db_path: str, port: int) -> Path:
    if db_path == ":memory:":
        return runtime_dir() / f"memory-{port}.token"
    return Path(db_path).with_name(Path(db_path).name + ".token")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user_file(token_file: Path) -> str:
    """The token from a file the user named; created (exclusively) when missing."""
    try:
        st = token_file.stat()
    except FileNotFoundError:
        token = "chl_" + secrets.token_urlsafe(32)
        create_exclusive(token_file, (token + "\n").encode())
        log.warning("generated API token %s written to %s", redact(token), token_file)
        return token
    why = problem(st, allow_readable=True)
    if why:
        raise UnsafeFile(f"token file {token_file} {why}; refusing to trust it")
    token = token_file.read_text().strip()
    if not token:
        raise UnsafeFile(f"token file {token_file} is empty")
    return token


def load_or_create_token(
    token_file: Path | None, db_path: str, port: int, store: Meta | None = None
) -> tuple[str, Path | None]:
    """Resolve the API token; return it and the file it came from or was written to."""
    if token_file is not None:
        return _user_file(token_file), token_file
    env = os.environ.get("CONFIGHUB_TOKEN", "").strip()
    if env:
        return env, None
    path = default_token_path(db_path, port)
    recorded = store.meta_get(_HASH_KEY) if store is not None and db_path != ":memory:" else None
    if recorded:
        text = (read_trusted(path) or "").strip()
        if text and hmac.compare_digest(_digest(text), recorded):
            return text, path
    token = "chl_" + secrets.token_urlsafe(32)
    replace_private(path, (token + "\n").encode())
    if store is not None and db_path != ":memory:":
        store.meta_set(_HASH_KEY, _digest(token))
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
