"""Errors raised by the ConfigHub client and providers.

Every error names what failed and where (the HTTP method and path, or the resource), and carries
the server's own message, so a failed `pulumi up` says why without a debugger. No error ever
includes the token: requests are described by method and path only.
"""

from __future__ import annotations


class ConfigHubError(Exception):
    """Base class for everything this package raises on purpose."""


class ConfigurationError(ConfigHubError):
    """The connection settings (URL, token) are missing or malformed."""


class ApiError(ConfigHubError):
    """A request that ConfigHub answered with an error status (or never answered)."""

    def __init__(
        self,
        method: str,
        path: str,
        status: int | None,
        message: str,
        *,
        retry_after: float | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        self.retry_after = retry_after
        where = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"ConfigHub {method} {path} failed ({where}): {message}")

    @property
    def retryable(self) -> bool:
        """True for answers that say "try again later": 5xx, 429 and transport failures."""
        return self.status is None or self.status == 429 or self.status >= 500


class NotFoundError(ApiError):
    """404: the object does not exist (providers map this to "gone")."""


class ConflictError(ApiError):
    """409: the object exists already or changed since it was read."""


class AdoptionRefusedError(ConfigHubError):
    """An object with the requested slug exists but is not managed by this program."""


class OperationFailedError(ConfigHubError):
    """An apply/destroy reached a terminal failure state or timed out."""
