"""What the vendor's August-2025 `cub` CLI needs that the mid-2026 spec words differently.

The CLI (`../shared/confighub/sdk/cmd/cub`, User-Agent exactly `cub`) is generated from an older
spec. Two differences cannot be served in one response, so for that client only:

- Error statuses. Its generated client decodes an error body only for 400, 401, 403, 404, 500
  (and 409 on the PUT updates); any other status reaches the user as "no response body". For
  this client a 409/422/423/429 becomes 400 and any other 5xx becomes 500, with the same
  `{"Code","Message"}` body (Code keeps the real meaning, e.g. "Conflict") and the original
  status in the `X-ConfigHub-Status` header.
- `POST .../unit/{id}/approve` answers a JSON string (the message) instead of ApproveResponse.

Every other client (the program's, the worker, curl) gets the spec's statuses and shapes.
"""

from __future__ import annotations

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

OLD_CUB_AGENT = "cub"
_DECODED = frozenset({400, 401, 403, 404, 500})


def is_old_cub(request: Request) -> bool:
    return request.headers.get("user-agent", "") == OLD_CUB_AGENT


def cub_status(method: str, status: int) -> int:
    """The status the old CLI can decode for an error `status` on a `method` request."""
    if status < 400 or status in _DECODED:
        return status
    if status == 409 and method == "PUT":
        return status
    return 500 if status >= 500 else 400


class CubCompatMiddleware:
    """Rewrite error statuses for the old CLI (see module docstring); others pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        agent = next((v for k, v in scope.get("headers", []) if k.lower() == b"user-agent"), b"")
        if agent.decode("latin-1") != OLD_CUB_AGENT:
            await self.app(scope, receive, send)
            return
        method = scope["method"]

        async def send_compat(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                mapped = cub_status(method, status)
                if mapped != status:
                    headers = list(message.get("headers", []))
                    headers.append((b"x-confighub-status", str(status).encode()))
                    message = {**message, "status": mapped, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_compat)
