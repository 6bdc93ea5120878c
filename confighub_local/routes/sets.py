"""Sets: removed from the ConfigHub API in 2026 (the spec has none), still in the 2025 `cub`.
Every Set route answers a 404 that says so and what to use instead."""

from __future__ import annotations

from fastapi import APIRouter, Request

from confighub_local.errors import ApiError
from confighub_local.routes.common import JSON, user_only

router = APIRouter()

_NO_SETS = (
    "Sets are not supported by this server: the ConfigHub API it follows (openapi.json, "
    "mid-2026) has no Set entity; group units with a label and select them with a saved Filter "
    "(cub filter create ... Unit --where \"Labels.<key> = '<value>'\")"
)


@router.api_route("/space/{space_id}/set", methods=["GET", "POST", "PATCH", "DELETE"])
@router.api_route("/space/{space_id}/set/{set_id}", methods=["GET", "PUT", "PATCH", "DELETE"])
@router.api_route("/set", methods=["GET", "POST", "PATCH", "DELETE"])
def no_sets(request: Request) -> JSON:
    user_only(request)
    raise ApiError(404, _NO_SETS)
