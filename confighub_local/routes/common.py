"""Helpers shared by route modules: fast JSON responses, boolean query flags, the caller."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from confighub_local.context import Caller, ServerState
from confighub_local.errors import ApiError


class JSON(Response):
    """json.dumps straight to bytes: list responses of thousands of units stay cheap."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode()


def ok(content: Any, status: int = 200) -> JSON:
    return JSON(content, status_code=status)


def multi_status(results: list[dict[str, Any]]) -> JSON:
    """A bulk response: 207 when any entry failed (carries an `Error`), else 200."""
    return ok(results, status=207 if any("Error" in r for r in results) else 200)


def need_where(where: str | None, filter_id: str | None) -> None:
    """Bulk unit routes act only on units a `where` or a saved filter selects."""
    if not where and not filter_id:
        raise ApiError(400, "bulk operations need a where or filter selecting units")


def flag(value: str | bool | None) -> bool:
    if isinstance(value, bool):
        return value
    return (value or "").strip().lower() in ("true", "1", "yes")


def caller(request: Request) -> Caller:
    found: Caller = request.scope["state"]["caller"]
    return found


def st_of(request: Request) -> ServerState:
    found: ServerState = request.app.state.chub
    return found


def user_only(request: Request) -> Caller:
    """Refuse worker credentials on user routes (a worker acts only through worker routes)."""
    who = caller(request)
    if who.worker_id is not None:
        raise ApiError(403, "worker credentials may only call bridge_worker routes")
    return who


class RawJSON(Response):
    """A body already serialised as JSON text (list endpoints splice stored documents)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return content.encode() if isinstance(content, str) else bytes(content)


def unsupported(**params: str | None) -> None:
    """A 400 naming any given spec parameter this server does not implement (never ignored)."""
    given = sorted(name for name, value in params.items() if value)
    if given:
        raise ApiError(400, f"parameter(s) not supported by this server: {', '.join(given)}")
