"""Fault injection for tests: latency, error rate (5xx, 429 + Retry-After) and dropped
connections (before handling, or after the write committed), globally or per route,
configured by CLI flags / CONFIGHUB_FAULTS (JSON) and at run time through the admin endpoint
`/_admin/faults` (same bearer token).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.types import ASGIApp, Receive, Scope, Send

from confighub_local.auth import bearer, same
from confighub_local.errors import error_body
from confighub_local.pgpattern import PatternError, compile_perl

ADMIN_PATH = "/_admin/faults"


class FaultRule(BaseModel):
    """One rule; the first rule whose route and method match a request applies."""

    model_config = ConfigDict(extra="forbid")

    route: str = Field(default=".*", description="regex searched in the request path")
    methods: list[str] = Field(default_factory=list, description="empty: every method")
    latency_ms: int = Field(default=0, ge=0, le=600_000)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_status: Literal[500, 502, 503, 504, 429] = 503
    retry_after: int = Field(default=1, ge=0, description="seconds, sent with 429 and 503")
    drop_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="drop before handling")
    drop_after_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="handle (and commit), then drop the response"
    )
    times: int | None = Field(default=None, ge=0, description="stop after N injected faults")

    @field_validator("route")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            compile_perl(value)  # RE2: a route regex cannot stall the event loop
        except PatternError as exc:
            raise ValueError(f"route is not a valid regex: {exc}") from None
        return value


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[FaultRule] = Field(default_factory=list)
    seed: int | None = None


class Faults:
    """Thread-safe current configuration plus the random source."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.config = config or FaultConfig()
        self._rng = random.Random(self.config.seed)
        self.injected = 0

    def set(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)

    def decide(self, method: str, path: str) -> tuple[int, str | None, FaultRule | None]:
        """(latency ms, 'error' | 'drop' | None, rule) for this request."""
        with self._lock:
            for rule in self.config.rules:
                if rule.methods and method.upper() not in [m.upper() for m in rule.methods]:
                    continue
                if compile_perl(rule.route).search(path) is None:
                    continue
                if rule.times is not None and rule.times <= 0:
                    continue
                action = None
                roll = self._rng.random()
                if roll < rule.drop_rate:
                    action = "drop"
                elif roll < rule.drop_rate + rule.error_rate:
                    action = "error"
                elif roll < rule.drop_rate + rule.error_rate + rule.drop_after_rate:
                    action = "drop_after"
                if action and rule.times is not None:
                    rule.times -= 1
                if action:
                    self.injected += 1
                return rule.latency_ms, action, rule
        return 0, None, None


def parse_config(text: str, where: str) -> FaultConfig:
    try:
        return FaultConfig.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise ValueError(f"invalid fault configuration in {where}: {exc}") from None


async def _json(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": data})


async def _read(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _swallow(message: Any) -> None:
    """Discard a response the client must never see (drop-after-commit faults)."""


class DroppedConnection(Exception):
    """Raised after a partial response so the server aborts the connection."""


class FaultMiddleware:
    """Outermost middleware: the admin endpoint, then the configured faults."""

    def __init__(self, app: ASGIApp, faults: Faults, token: str) -> None:
        self.app = app
        self.faults = faults
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == ADMIN_PATH:
            await self._admin(scope, receive, send)
            return
        if path == "/healthz":
            await self.app(scope, receive, send)
            return
        latency, action, rule = self.faults.decide(scope["method"], path)
        if latency:
            await asyncio.sleep(latency / 1000)
        if action == "error" and rule is not None:
            headers = []
            if rule.error_status in (429, 503):
                headers.append((b"retry-after", str(rule.retry_after).encode()))
            await _json(
                send, rule.error_status, error_body(rule.error_status, "injected fault"), headers
            )
            return
        if action == "drop_after":
            await self.app(scope, receive, _swallow)
            action = "drop"
        if action == "drop":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", b"1000"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b'{"partial":', "more_body": True})
            raise DroppedConnection(f"injected dropped connection on {path}")
        await self.app(scope, receive, send)

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        token = bearer(headers.get("authorization"))
        if not token or not same(token, self.token):
            await _json(send, 401, error_body(401, "missing or invalid bearer token"), [])
            return
        method = scope["method"]
        if method == "GET":
            body = {**self.faults.config.model_dump(), "Injected": self.faults.injected}
            await _json(send, 200, body, [])
        elif method in ("PUT", "POST"):
            try:
                config = parse_config((await _read(receive)).decode() or "{}", ADMIN_PATH)
            except ValueError as exc:
                await _json(send, 400, error_body(400, str(exc)), [])
                return
            self.faults.set(config)
            await _json(send, 200, config.model_dump(), [])
        elif method == "DELETE":
            self.faults.set(FaultConfig())
            await _json(send, 200, FaultConfig().model_dump(), [])
        else:
            await _json(send, 405, error_body(405, f"{method} not allowed on {ADMIN_PATH}"), [])
