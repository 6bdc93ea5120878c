"""Per-app state shared by routes: the store, the organization, the caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from confighub_local.db import Store


@dataclass
class ServerState:
    store: Store
    token: str
    org_id: str
    user_id: str
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Caller:
    """Who is calling: the admin user, or a bridge worker (restricted to its own space)."""

    user_id: str
    worker_id: str | None = None
    worker_space_id: str | None = None


def state(request: Request) -> ServerState:
    st: ServerState = request.app.state.chub
    return st
