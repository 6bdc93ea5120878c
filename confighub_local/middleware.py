"""ASGI middleware: bearer-token authentication for every /api route.

Worker routes (`/api/bridge_worker/{id}/...`) also accept that worker's own secret, either as
`Bearer <secret>` or HTTP Basic `<worker id>:<secret>`; the caller is then limited to the
worker's own space.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from confighub_local.auth import bearer, same
from confighub_local.context import Caller, ServerState
from confighub_local.errors import error_body
from confighub_local.worker_secret import matches

_WORKER_PATH = re.compile(r"^/api/bridge_worker/([0-9a-fA-F-]{36})/")
_OPEN_PATHS = {"/healthz"}


async def _reply(send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps(error_body(status, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, pw = base64.b64decode(value.strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, pw


class AuthMiddleware:
    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.st = state

    def _caller(self, path: str, header: str) -> Caller | None:
        token = bearer(header)
        if token and same(token, self.st.token):
            return Caller(user_id=self.st.user_id)
        m = _WORKER_PATH.match(path)
        if not m:
            return None
        worker_id = m.group(1).lower()
        worker: dict[str, Any] | None = self.st.store.get("BridgeWorker", worker_id)
        if worker is None:
            return None
        secret = token
        basic = _basic(header)
        if basic is not None:
            if basic[0].lower() != worker_id:
                return None
            secret = basic[1]
        if secret and matches(secret, worker):
            return Caller(
                user_id=self.st.user_id, worker_id=worker_id, worker_space_id=worker["SpaceID"]
            )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        caller = self._caller(scope["path"], headers.get("authorization", ""))
        if caller is None:
            await _reply(
                send,
                401,
                "missing or invalid bearer token",
                [(b"www-authenticate", b'Bearer realm="confighub"')],
            )
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)
