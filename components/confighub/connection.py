"""Where the ConfigHub server is and how to authenticate, resolved inside the provider process.

Dynamic provider instances are pickled into Pulumi state, so they must never hold the token.
Instead `configure(req)` (called by the dynamic-provider host with the stack configuration) stores
the settings in this module-level cache; every provider in the process reads them from here. The
cache is keyed by nothing secret: there is exactly one connection per provider process. Without
stack configuration the environment (`CONFIGHUB_URL`, `CONFIGHUB_TOKEN`) is used.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from .errors import ConfigurationError

DEFAULT_URL = "http://127.0.0.1:8765"
URL_KEY = "confighub:url"
TOKEN_KEY = "confighub:token"
TIMEOUT_ENV = "CONFIGHUB_TIMEOUT_SECONDS"  # per-request timeout (tests shorten it)


class ConnectionSettings(BaseModel):
    """Server root (no `/api`) and bearer token; the token never appears in repr or logs."""

    model_config = ConfigDict(frozen=True)

    url: str = DEFAULT_URL
    token: SecretStr | None = None
    timeout_seconds: float = 30.0

    @field_validator("url")
    @classmethod
    def _root_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"confighub url must be scheme://host:port, got {value!r}")
        if parts.path not in ("", "/api") or parts.query:
            raise ValueError(
                f"confighub url must be the server root without a path (the client adds /api), "
                f"got {value!r}"
            )
        return value.removesuffix("/api")

    @property
    def api(self) -> str:
        return self.url + "/api"


_lock = threading.Lock()
_configured: ConnectionSettings | None = None


def _settings_from(url: Any, token: Any, source: str) -> ConnectionSettings:
    try:
        return ConnectionSettings(
            url=str(url) if url else DEFAULT_URL,
            token=SecretStr(str(token)) if token else None,
            timeout_seconds=float(os.environ.get(TIMEOUT_ENV) or 30.0),
        )
    except ValueError as exc:
        raise ConfigurationError(
            f"invalid ConfigHub connection settings from {source}: {exc}"
        ) from exc


def configure_from_config(config: Mapping[str, Any] | Any) -> None:
    """Store settings from stack config (`confighub:url`, `confighub:token`), env as fallback.

    `config` is a `pulumi.dynamic.Config` or any object with `get(key)`.
    """
    url = config.get(URL_KEY) or os.environ.get("CONFIGHUB_URL")
    token = config.get(TOKEN_KEY) or os.environ.get("CONFIGHUB_TOKEN")
    settings = _settings_from(url, token, "stack config / environment")
    global _configured
    with _lock:
        _configured = settings


def current_settings() -> ConnectionSettings:
    """The configured settings, or ones read from the environment if `configure` never ran."""
    with _lock:
        if _configured is not None:
            return _configured
    return _settings_from(
        os.environ.get("CONFIGHUB_URL"), os.environ.get("CONFIGHUB_TOKEN"), "environment"
    )


def reset() -> None:
    """Forget configured settings (tests)."""
    global _configured
    with _lock:
        _configured = None
