"""ASGI middleware (server-agnostic): bearer-token authentication for every /api route, a
request-size limit, case-insensitive UUIDs in paths and one handler for unexpected errors.

Worker routes (`/api/bridge_worker/{id}/...`) also accept that worker's own secret, either as
`Bearer <secret>` or HTTP Basic `<worker id>:<secret>`; the caller is then limited to the
worker's own space.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from typing import Any
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from confighub_local.auth import bearer, same
from confighub_local.context import Caller, ServerState
from confighub_local.errors import error_body
from confighub_local.worker_secret import matches

log = logging.getLogger("confighub_local")

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
_DRAIN_CAP = 64 * 1024 * 1024  # read (and drop) at most this much of an oversized body
_WORKER_PATH = re.compile(r"^/api/bridge_worker/([0-9a-fA-F-]{36})/")
_OPEN_PATHS = {"/healthz"}


async def _reply(send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps(error_body(status, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
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
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
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


class BodyLimitMiddleware:
    """Refuse bodies over `max_bytes` with 413 before any handler sees them.

    The body is read here (the JSON handlers read it whole anyway) and replayed to the app, so
    the limit holds for chunked bodies as well as declared lengths. An oversized body is drained
    (up to a cap, never kept) before the 413 so that the client, still sending, reads the answer;
    with `Expect: 100-continue` the client is answered before it sends anything.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send, size: str) -> None:
        message = f"request body of {size} bytes exceeds the limit of {self.max_bytes} bytes"
        await _reply(send, 413, message, [(b"connection", b"close")])

    @staticmethod
    async def _drain(receive: Receive, seen: int) -> None:
        while seen < _DRAIN_CAP:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body"):
                return
            seen += len(message.get("body", b""))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length", b"").strip()
        if declared.isdigit() and int(declared) > self.max_bytes:
            if headers.get(b"expect", b"").lower() != b"100-continue":
                await self._drain(receive, 0)
            await self._refuse(send, declared.decode())
            return
        chunks: list[bytes] = []
        total = 0
        pending: Message | None = None
        while True:
            message = await receive()
            if message["type"] != "http.request":
                pending = message  # the client went away; the app sees that in order
                break
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                if message.get("more_body"):
                    await self._drain(receive, total)
                await self._refuse(send, f"more than {self.max_bytes}")
                return
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                if pending is not None:
                    return pending
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _lower_uuids(path: str) -> str:
    parts = path.split("/")
    return "/".join(p.lower() if _UUID.fullmatch(p) else p for p in parts)


def _lower_query_uuids(query: bytes) -> bytes:
    """Query values that are exactly one UUID (filter=, unit_id=, ...) in lower case."""
    pairs = query.split(b"&")
    for i, pair in enumerate(pairs):
        key, sep, value = pair.partition(b"=")
        text = unquote_plus(value.decode("latin-1"))
        if sep and _UUID.fullmatch(text) and text != text.lower():
            pairs[i] = key + b"=" + text.lower().encode()
    return b"&".join(pairs)


class UuidCaseMiddleware:
    """UUIDs are case-insensitive (PostgreSQL's uuid type): stored ones are lower case, so
    UUIDs in the path and whole-UUID query values are lowered before routing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            lowered = _lower_uuids(path)
            query = scope.get("query_string", b"")
            lowered_query = _lower_query_uuids(query) if query else query
            if lowered != path or lowered_query != query:
                scope = dict(scope)
                scope["path"] = lowered
                scope["raw_path"] = lowered.encode()
                scope["query_string"] = lowered_query
        await self.app(scope, receive, send)


class CatchAllMiddleware:
    """The one handler for anything unexpected: log it, answer the spec's error body (500)
    and return normally, so the server keeps the keep-alive connection open (an exception
    escaping the app makes ASGI servers close it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # half a response went out: only closing the connection is honest
            message = f"internal error ({type(exc).__name__}); see the server log"
            await _reply(send, 500, message, [])
